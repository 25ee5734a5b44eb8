//! Chaos for the kinds beyond the four original ones: EcsTask, EcrRegistry, EcsSchedule,
//! EcsExpressService, EcsGateway and EcsService auto scaling (with a scalable target registered by an
//! operator killed before it recorded it). A submodule of `chaos` (`chaos::kinds::…`), so
//! `make e2e-light` runs it with the other chaos tests, after the rest, taking turns on the same
//! lock.
//!
//! AWS is read from moto directly; the fault proxy's counts and recorded bodies say which calls
//! reached moto.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use e2e::aws::{auto_scaling, scan_filters, schedules, task_tag};
use e2e::fault::{FaultConfig, FaultProxy};
use e2e::{OperatorProcess, TestEnv, condition, manifest, unique};
use ecs_operator::api::ecs_schedule::EcsSchedule;
use ecs_operator::api::ecs_task::EcsTask;
use ecs_operator::api::{EcrRegistry, EcsExpressService, EcsGateway, EcsService};
use ecs_operator::contract::{ATTEMPT_TAG, OWNER_UID_TAG};
use kube::ResourceExt;
use kube::api::ListParams;
use serde_json::{Value, json};

use super::{CHAOS_DEADLINE, TURNS, chaos_faults, poll_until_empty, seed};

/// SIGKILLs `op` and starts generation `generation + 1` with `start`.
async fn kill_and_restart(
    op: &mut OperatorProcess,
    generation: &mut usize,
    start: &impl Fn(usize) -> Result<OperatorProcess>,
) -> Result<()> {
    op.kill();
    op.wait_exit(Duration::from_secs(10)).await?;
    *generation += 1;
    *op = start(*generation)?;
    Ok(())
}

/// Kills and restarts the operator `kills` times, `every` apart (pacing, not an assertion).
async fn kill_every(
    op: &mut OperatorProcess,
    generation: &mut usize,
    kills: usize,
    every: Duration,
    start: &impl Fn(usize) -> Result<OperatorProcess>,
) -> Result<()> {
    for _ in 0..kills {
        tokio::time::sleep(every).await;
        kill_and_restart(op, generation, start).await?;
    }
    Ok(())
}

/// The recorded calls of `action` (bodies as JSON).
fn recorded_bodies(proxy: &FaultProxy, action: &str) -> Vec<Value> {
    proxy
        .recorded()
        .into_iter()
        .filter(|r| r.action == action)
        .filter_map(|r| serde_json::from_str(&r.body).ok())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// EcsTask

/// One EcsTask object of the test and what it must end as.
struct Run {
    name: String,
    /// The attempts it must have made (1 + backoffLimit for a failing run).
    attempts: usize,
    /// "Failed", "Succeeded" or "Running".
    phase: &'static str,
}

/// Names of runs not yet in their final phase with their attempts.
async fn runs_not_settled(env: &TestEnv, runs: &[Run]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for run in runs {
        let s = env.status_json::<EcsTask>(&run.name).await?;
        let settled = s["phase"] == run.phase
            && (run.phase == "Running" || s["attempts"] == run.attempts as u64);
        if !settled {
            out.push(format!(
                "{} ({}, attempts {})",
                run.name, s["phase"], s["attempts"]
            ));
        }
    }
    Ok(out)
}

/// RunTask answers are lost (the first, then half of the rest; no SDK retry, so finding the
/// task is the operator's job) while the operator is SIGKILLed: every attempt of every run starts
/// exactly one task (one RunTask reached moto per attempt, one task per attempt tag); then the
/// runs are deleted with the first StopTask answer lost and one more kill: each running task is
/// stopped exactly once, finished ones not at all.
#[tokio::test]
async fn ecs_task_starts_one_task_per_attempt_and_stops_once_under_chaos() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-task").await?;
    env.stop_operator();
    let awsvpc = e2e::fargate_network().await?;
    // Three targets: exits 2 after 2 s, exits 0 after 2 s, runs for 10 minutes.
    let (failing, failing_family, _) = env.aws_run_target(2, 2).await?;
    let (passing, passing_family, _) = env.aws_run_target(2, 0).await?;
    let (long, long_family, _) = env.aws_run_target(600, 0).await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        lose_first: 1,
        lost: 0.5,
        seed: seed(21),
        record: true,
        ..FaultConfig::default()
    })
    .await?;
    let endpoint = proxy.url();
    let start = |n: usize| {
        env.spawn_operator(
            &format!("task{n}"),
            &["--aws-max-attempts", "1", "--concurrency", "8"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    };
    let mut generation = 0;
    let mut op = start(generation)?;
    let mut runs = Vec::new();
    let targets = [
        (&failing, &failing_family, 3, "f", 3, "Failed"),
        (&passing, &passing_family, 2, "s", 1, "Succeeded"),
        (&long, &long_family, 2, "l", 1, "Running"),
    ];
    for (cluster, family, count, prefix, attempts, phase) in targets {
        for i in 0..count {
            let name = format!("{prefix}{i}");
            let spec = json!({"cluster": cluster, "taskDefinition": family,
                "launchType": "FARGATE", "backoffLimit": attempts - 1,
                "networkConfiguration": {"awsvpcConfiguration": awsvpc}});
            env.apply::<EcsTask>(&manifest("EcsTask", &name, &spec))
                .await?;
            runs.push(Run {
                name,
                attempts,
                phase,
            });
        }
    }
    kill_every(&mut op, &mut generation, 3, Duration::from_secs(3), &start).await?;
    poll_until_empty(
        "every run in its final phase",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || runs_not_settled(&env, &runs),
    )
    .await?;

    // One task per attempt in moto, tagged with its owner and attempt.
    let mut by_uid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cluster in [&failing, &passing, &long] {
        for t in env.tasks_in(cluster).await? {
            let owner = task_tag(&t, OWNER_UID_TAG).unwrap_or_default().to_string();
            let attempt = task_tag(&t, ATTEMPT_TAG).unwrap_or_default().to_string();
            by_uid.entry(owner).or_default().push(attempt);
        }
    }
    let mut long_arns = Vec::new();
    for run in &runs {
        let obj = env.api::<EcsTask>().get(&run.name).await?;
        let uid = obj.uid().unwrap_or_default();
        let mut have = by_uid.remove(&uid).unwrap_or_default();
        have.sort();
        let want: Vec<String> = (1..=run.attempts).map(|a| a.to_string()).collect();
        ensure!(
            have == want,
            "{}: tasks by attempt tag {have:?}, want {want:?}",
            run.name
        );
        if run.phase == "Running" {
            let s = env.status_json::<EcsTask>(&run.name).await?;
            let arn = s["taskArns"][0].as_str().unwrap_or_default().to_string();
            ensure!(!arn.is_empty(), "{s}");
            long_arns.push(arn);
        }
    }
    ensure!(by_uid.is_empty(), "tasks of no run: {by_uid:?}");
    // One RunTask reached moto per attempt (no SDK retry, no injected error: every call did).
    let mut tokens: BTreeMap<String, usize> = BTreeMap::new();
    for body in recorded_bodies(&proxy, "RunTask") {
        let token = body["clientToken"].as_str().unwrap_or_default().to_string();
        *tokens.entry(token).or_default() += 1;
    }
    let want_calls: usize = runs.iter().map(|r| r.attempts).sum();
    ensure!(
        tokens.len() == want_calls && tokens.values().all(|n| *n == 1),
        "RunTask calls per client token (want {want_calls} tokens, once each): {tokens:?}"
    );
    let counts = proxy.counts();
    let lost = counts
        .get("ecs:RunTask")
        .map(|c| c.lost)
        .unwrap_or_default();
    ensure!(lost >= 2, "too few RunTask answers lost: {counts:?}");
    eprintln!("{want_calls} attempts, {lost} RunTask answers lost, {generation} kills");

    // Deletion: the first StopTask answer lost, the operator killed once StopTask reached moto.
    proxy.reset_counts();
    proxy.set_config(FaultConfig {
        lose_first: 1,
        seed: seed(22),
        record: true,
        ..FaultConfig::default()
    });
    let stops_before = recorded_bodies(&proxy, "StopTask").len();
    for run in &runs {
        env.delete::<EcsTask>(&run.name).await?;
    }
    env.wait_for("StopTask reached moto", || async {
        Ok(proxy
            .counts()
            .get("ecs:StopTask")
            .is_some_and(|c| c.calls > 0)
            .then_some(()))
    })
    .await?;
    kill_and_restart(&mut op, &mut generation, &start).await?;
    poll_until_empty(
        "every run deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let list = env.api::<EcsTask>().list(&ListParams::default()).await?;
            Ok(list.items.iter().map(|o| o.name_any()).collect())
        },
    )
    .await?;
    let mut stopped: BTreeMap<String, usize> = BTreeMap::new();
    for body in recorded_bodies(&proxy, "StopTask")
        .into_iter()
        .skip(stops_before)
    {
        let task = body["task"].as_str().unwrap_or_default().to_string();
        *stopped.entry(task).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = long_arns.iter().map(|a| (a.clone(), 1)).collect();
    ensure!(
        stopped == want,
        "StopTask calls per task: {stopped:?}, want once for each running task {want:?}"
    );
    for t in env.tasks_in(&long).await? {
        ensure!(
            t.last_status() == Some("STOPPED")
                && t.stop_code().map(|c| c.as_str()) == Some("UserInitiated"),
            "{t:?}"
        );
    }
    drop(op);
    env.cleanup::<EcsTask>().await
}

// ---------------------------------------------------------------------------------------------
// EcrRegistry

/// An ECR client for `region` on the bed's moto.
async fn ecr_in(region: &str) -> aws_sdk_ecr::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    aws_sdk_ecr::Client::new(&config)
}

/// Reads the region's scanning filters every 100 ms until dropped: every state the registry
/// passed through, in order (consecutive repeats folded).
struct Sampler {
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(ecr: aws_sdk_ecr::Client) -> Self {
        let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(now) = scan_filters(&ecr).await {
                    let mut seen = shared.lock().unwrap_or_else(|p| p.into_inner());
                    if seen.last() != Some(&now) {
                        seen.push(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { seen, task }
    }

    /// The states seen since the last call.
    fn take(&self) -> Vec<Vec<String>> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let last = seen.last().cloned();
        let out = std::mem::take(&mut *seen);
        seen.extend(last);
        out
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// (Synced status, reason) of every EcrRegistry object of the test.
async fn synced(env: &TestEnv) -> Result<BTreeMap<String, (String, String)>> {
    let list = env
        .api::<EcrRegistry>()
        .list(&ListParams::default())
        .await?;
    let mut out = BTreeMap::new();
    for o in list.items {
        let s = serde_json::to_value(&o)?["status"].clone();
        out.insert(o.name_any(), condition(&s, "Synced"));
    }
    Ok(out)
}

/// Waits until exactly one object is Synced=True and every other is refused with
/// OwnedByAnother; returns the owner.
async fn one_owner(env: &TestEnv, op: &OperatorProcess) -> Result<String> {
    poll_until_empty(
        "exactly one owner, the others OwnedByAnother",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let all = synced(env).await?;
            let owners = all.values().filter(|(s, _)| s == "True").count();
            let refused = all
                .values()
                .filter(|(s, r)| s == "False" && r == "OwnedByAnother")
                .count();
            if owners == 1 && refused + 1 == all.len() {
                return Ok(vec![]);
            }
            Ok(vec![format!("{all:?}")])
        },
    )
    .await?;
    synced(env)
        .await?
        .into_iter()
        .find(|(_, (s, _))| s == "True")
        .map(|(n, _)| n)
        .ok_or_else(|| anyhow!("the owner went away"))
}

/// The filter object `name` declares.
fn filter_of(name: &str) -> String {
    format!("{name}-*")
}

/// Ensures every state in `seen` is one of `allowed` (the default, the owner's, ...).
fn only_states(seen: &[Vec<String>], allowed: &[Vec<String>], when: &str) -> Result<()> {
    let bad: Vec<&Vec<String>> = seen.iter().filter(|s| !allowed.contains(s)).collect();
    ensure!(
        bad.is_empty(),
        "{when}: the registry held {bad:?} (allowed {allowed:?}; all seen {seen:?})"
    );
    Ok(())
}

/// Four objects for one registry converge under ECR faults (throttling, 5xx, lost answers) and
/// three SIGKILLs: one owner, the others refused; the registry only ever holds the owner's
/// settings. Deleting a non-owner, then the owner (one kill each) never lets a non-owner write or
/// reset: the registry goes from the owner's settings to the next owner's (through the owner's
/// reset), and to the defaults when the last goes.
#[tokio::test]
async fn ecr_registry_has_one_owner_and_no_foreign_reset_under_chaos() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-ecrreg").await?;
    env.stop_operator();
    // A region no other test uses: registry settings are per region.
    let region = "eu-north-1";
    let ecr = ecr_in(region).await;
    // A long-lived bed may hold what an interrupted run left: start from ECR's default.
    ecr.put_registry_scanning_configuration()
        .scan_type(aws_sdk_ecr::types::ScanType::Basic)
        .set_rules(Some(vec![]))
        .send()
        .await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        lose_first: 1,
        ..chaos_faults(seed(31))
    })
    .await?;
    let endpoint = proxy.url();
    let start = |n: usize| {
        env.spawn_operator(
            &format!("reg{n}"),
            &["--concurrency", "8"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    };
    let sampler = Sampler::start(ecr.clone());
    let mut generation = 0;
    let mut op = start(generation)?;
    let names: Vec<String> = (0..4).map(|i| unique(&format!("reg{i}"))).collect();
    for name in &names {
        let spec = json!({"region": region, "deletionPolicy": "Delete",
            "scanningConfiguration": {"scanType": "BASIC", "rules": [{"scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": filter_of(name), "filterType": "WILDCARD"}]}]}});
        env.apply::<EcrRegistry>(&manifest("EcrRegistry", name, &spec))
            .await?;
    }
    kill_every(&mut op, &mut generation, 3, Duration::from_secs(3), &start).await?;
    let owner = one_owner(&env, &op).await?;
    let owners = vec![filter_of(&owner)];
    env.wait_for("the owner's settings in moto", || async {
        Ok((scan_filters(&ecr).await? == owners).then_some(()))
    })
    .await?;
    only_states(&sampler.take(), &[vec![], owners.clone()], "converging")?;
    let counts = proxy.counts();
    let injected = e2e::fault::total(&counts, |c| c.throttled + c.server_errors + c.lost);
    ensure!(injected > 0, "no fault was injected: {counts:?}");

    // A non-owner goes (one kill): the registry keeps the owner's settings throughout.
    let Some(other) = names.iter().find(|n| **n != owner).cloned() else {
        return Err(anyhow!("no non-owner among {names:?}"));
    };
    env.delete::<EcrRegistry>(&other).await?;
    kill_every(
        &mut op,
        &mut generation,
        1,
        Duration::from_millis(500),
        &start,
    )
    .await?;
    env.wait_gone::<EcrRegistry>(&other).await?;
    let next = one_owner(&env, &op).await?;
    ensure!(next == owner, "the owner changed from {owner} to {next}");
    only_states(
        &sampler.take(),
        std::slice::from_ref(&owners),
        "deleting a non-owner",
    )?;

    // The owner goes (one kill): its reset, then exactly one of the rest takes over.
    env.delete::<EcrRegistry>(&owner).await?;
    kill_every(
        &mut op,
        &mut generation,
        1,
        Duration::from_millis(500),
        &start,
    )
    .await?;
    env.wait_gone::<EcrRegistry>(&owner).await?;
    let next = one_owner(&env, &op).await?;
    let nexts = vec![filter_of(&next)];
    env.wait_for("the next owner's settings in moto", || async {
        Ok((scan_filters(&ecr).await? == nexts).then_some(()))
    })
    .await?;
    only_states(
        &sampler.take(),
        &[owners.clone(), vec![], nexts.clone()],
        "the owner's deletion",
    )?;

    // Everything goes: the defaults remain.
    for name in names.iter().filter(|n| **n != other && **n != owner) {
        env.delete::<EcrRegistry>(name).await?;
    }
    poll_until_empty(
        "every EcrRegistry deleted",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async { Ok(synced(&env).await?.into_keys().collect()) },
    )
    .await?;
    env.wait_for("the registry back to its defaults", || async {
        Ok(scan_filters(&ecr).await?.is_empty().then_some(()))
    })
    .await?;
    let rest: Vec<Vec<String>> = names
        .iter()
        .filter(|n| **n != other && **n != owner)
        .map(|n| vec![filter_of(n)])
        .chain([vec![]])
        .collect();
    only_states(&sampler.take(), &rest, "deleting the rest")?;
    drop(sampler);
    drop(op);
    env.cleanup::<EcrRegistry>().await
}

// ---------------------------------------------------------------------------------------------
// EcsSchedule

/// Four schedules converge with their create answers lost (the first, then a third of the rest,
/// SDK retries on top) and throttling, while the operator is SIGKILLed three times: one schedule
/// each, not refused as someone else's (the create record names it). A new target is applied
/// under the same faults (one kill): the same schedules, updated in place. Deleted (one kill):
/// nothing left.
///
/// A CreateSchedule that reached AWS with its answer lost for good (a kill while the SDK backed
/// off, or every retry throttled) left a pending create record and an unrecorded schedule; the
/// object asks CreateSchedule again with its client token to learn the schedule is its own
/// (without that, about one run in two ended refused with AlreadyExists).
#[tokio::test]
async fn ecs_schedule_is_created_once_updated_in_place_and_deleted_under_chaos() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-sched").await?;
    env.stop_operator();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let cluster = unique("chaos-sched");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let (first, second) = (unique("chaos-sched-a"), unique("chaos-sched-b"));
    let first_revision = env.register_revision(&first, "busybox").await?;
    let second_revision = env.register_revision(&second, "busybox").await?;
    let faults = |seed: u64| FaultConfig {
        lose_first: 1,
        lost: 0.3,
        throttle: 0.2,
        seed,
        ..FaultConfig::default()
    };
    let proxy = FaultProxy::in_front_of_bed(faults(seed(41))).await?;
    let endpoint = proxy.url();
    let start = |n: usize| {
        env.spawn_operator(
            &format!("sched{n}"),
            &["--concurrency", "8"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    };
    let prefix = unique("cs");
    let names: Vec<String> = (0..4).map(|i| format!("{prefix}-{i}")).collect();
    let spec = |name: &str, family: &str| {
        json!({"name": name, "scheduleExpression": "rate(1 hour)",
            "flexibleTimeWindow": {"mode": "OFF"},
            "roleArn": "arn:aws:iam::123456789012:role/scheduler",
            "cluster": cluster, "taskDefinition": family, "launchType": "EC2"})
    };
    let mut generation = 0;
    let mut op = start(generation)?;
    for (i, name) in names.iter().enumerate() {
        env.apply::<EcsSchedule>(&manifest(
            "EcsSchedule",
            &format!("s{i}"),
            &spec(name, &first),
        ))
        .await?;
    }
    kill_every(&mut op, &mut generation, 3, Duration::from_secs(3), &start).await?;
    poll_until_empty(
        "every schedule Ready",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || super::not_ready::<EcsSchedule>(&env),
    )
    .await?;
    let created = schedules(&scheduler, &prefix).await?;
    ensure!(
        created.keys().cloned().collect::<Vec<_>>() == names,
        "schedules in AWS: {created:?}, want {names:?}"
    );
    for (i, name) in names.iter().enumerate() {
        let (arn, _, revision) = &created[name];
        ensure!(revision == &first_revision, "{name}: target {revision}");
        let s = env.status_json::<EcsSchedule>(&format!("s{i}")).await?;
        ensure!(s["arn"] == arn.as_str(), "{name}: status {s}, AWS {arn}");
    }
    let counts = proxy.counts();
    ensure!(
        counts
            .get("scheduler:CreateSchedule")
            .is_some_and(|c| c.lost > 0),
        "no CreateSchedule answer was lost: {counts:?}"
    );

    // A new target for every schedule, under the same faults and one kill.
    proxy.reset_counts();
    proxy.set_config(faults(seed(42)));
    for (i, name) in names.iter().enumerate() {
        env.apply::<EcsSchedule>(&manifest(
            "EcsSchedule",
            &format!("s{i}"),
            &spec(name, &second),
        ))
        .await?;
    }
    kill_every(&mut op, &mut generation, 1, Duration::from_secs(2), &start).await?;
    poll_until_empty(
        "every schedule Ready with the new target",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || super::not_ready::<EcsSchedule>(&env),
    )
    .await?;
    poll_until_empty(
        "every schedule's new target in AWS",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let now = schedules(&scheduler, &prefix).await?;
            Ok(now
                .iter()
                .filter(|(_, (_, _, r))| r != &second_revision)
                .map(|(n, _)| n.clone())
                .collect())
        },
    )
    .await?;
    let updated = schedules(&scheduler, &prefix).await?;
    for name in &names {
        let (arn, at, _) = &created[name];
        let now = updated
            .get(name)
            .ok_or_else(|| anyhow!("{name} is gone: {updated:?}"))?;
        ensure!(
            (&now.0, &now.1) == (arn, at),
            "{name} re-created instead of updated: was {:?}, is {now:?}",
            created[name]
        );
    }
    ensure!(
        updated.len() == names.len(),
        "schedules in AWS: {updated:?}"
    );
    ensure!(
        proxy
            .counts()
            .get("scheduler:UpdateSchedule")
            .is_some_and(|c| c.lost > 0),
        "no UpdateSchedule answer was lost: {:?}",
        proxy.counts()
    );

    // Deleted under the same faults and one kill: nothing left.
    proxy.reset_counts();
    proxy.set_config(faults(seed(43)));
    for i in 0..names.len() {
        env.delete::<EcsSchedule>(&format!("s{i}")).await?;
    }
    kill_every(&mut op, &mut generation, 1, Duration::from_secs(1), &start).await?;
    poll_until_empty(
        "every EcsSchedule deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let list = env
                .api::<EcsSchedule>()
                .list(&ListParams::default())
                .await?;
            Ok(list.items.iter().map(|o| o.name_any()).collect())
        },
    )
    .await?;
    let left = schedules(&scheduler, &prefix).await?;
    ensure!(left.is_empty(), "schedules left: {left:?}");
    drop(op);
    env.cleanup::<EcsSchedule>().await
}

// ---------------------------------------------------------------------------------------------
// EcsService auto scaling

fn target_tracking(name: &str, value: f64, metric: &str) -> Value {
    json!({"PolicyName": name, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": value,
            "PredefinedMetricSpecification": {"PredefinedMetricType": metric}}})
}

/// Resource ids whose auto scaling in moto is not `want`.
async fn scaling_differs(
    aas: &aws_sdk_applicationautoscaling::Client,
    rids: &[String],
    want: &(Vec<(i32, i32)>, BTreeMap<String, f64>),
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for rid in rids {
        let have = auto_scaling(aas, rid).await?;
        if &have != want {
            out.push(format!("{rid}: {have:?}"));
        }
    }
    Ok(out)
}

/// Three services with auto scaling converge with Application Auto Scaling's (and ECS's)
/// answers lost (the first of each action, then half of the rest) while the operator is
/// SIGKILLed three times: one scalable target each with the declared policies. New bounds and one
/// policy fewer are applied the same way (one kill): only the declared policy is left. Deleted
/// (one kill): every scalable target is deregistered.
#[tokio::test]
async fn ecs_service_auto_scaling_converges_and_goes_under_chaos() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-aas").await?;
    env.stop_operator();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let cluster = unique("chaos-aas");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let family = unique("chaos-aas-web");
    env.register_revision(&family, "nginx:1").await?;
    let faults = |seed: u64| FaultConfig {
        lose_first: 1,
        lost: 0.5,
        seed,
        ..FaultConfig::default()
    };
    let proxy = FaultProxy::in_front_of_bed(faults(seed(51))).await?;
    let endpoint = proxy.url();
    let start = |n: usize| {
        env.spawn_operator(
            &format!("aas{n}"),
            &["--concurrency", "8"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    };
    let services: Vec<String> = (0..3).map(|i| unique(&format!("chaos-aas-{i}"))).collect();
    let rids: Vec<String> = services
        .iter()
        .map(|s| format!("service/{cluster}/{s}"))
        .collect();
    let apply = |scaling: Value| {
        let env = &env;
        let services = &services;
        let (cluster, family) = (&cluster, &family);
        async move {
            for (i, name) in services.iter().enumerate() {
                let spec = json!({"serviceName": name, "cluster": cluster,
                    "taskDefinition": family, "launchType": "EC2", "autoScaling": scaling});
                env.apply::<EcsService>(&manifest("EcsService", &format!("s{i}"), &spec))
                    .await?;
            }
            anyhow::Ok(())
        }
    };
    let mut generation = 0;
    let mut op = start(generation)?;
    apply(
        json!({"MinCapacity": 1, "MaxCapacity": 4, "ScalingPolicies": [
        target_tracking("cpu", 60.0, "ECSServiceAverageCPUUtilization"),
        target_tracking("memory", 70.0, "ECSServiceAverageMemoryUtilization")]}),
    )
    .await?;
    kill_every(&mut op, &mut generation, 3, Duration::from_secs(3), &start).await?;
    let declared = (
        vec![(1, 4)],
        BTreeMap::from([("cpu".to_string(), 60.0), ("memory".to_string(), 70.0)]),
    );
    poll_until_empty(
        "every service Ready",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || super::not_ready::<EcsService>(&env),
    )
    .await?;
    poll_until_empty(
        "the declared auto scaling in AWS",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || scaling_differs(&aas, &rids, &declared),
    )
    .await?;
    let counts = proxy.counts();
    for action in [
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
    ] {
        ensure!(
            counts.get(action).is_some_and(|c| c.lost > 0),
            "no {action} answer was lost: {counts:?}"
        );
    }

    // New bounds, the memory policy dropped, the cpu target moved: one kill.
    proxy.reset_counts();
    proxy.set_config(faults(seed(52)));
    apply(
        json!({"MinCapacity": 1, "MaxCapacity": 6, "ScalingPolicies": [
        target_tracking("cpu", 65.0, "ECSServiceAverageCPUUtilization")]}),
    )
    .await?;
    kill_every(&mut op, &mut generation, 1, Duration::from_secs(2), &start).await?;
    let declared = (vec![(1, 6)], BTreeMap::from([("cpu".to_string(), 65.0)]));
    poll_until_empty(
        "the changed auto scaling in AWS (only the declared policy)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || scaling_differs(&aas, &rids, &declared),
    )
    .await?;
    poll_until_empty(
        "every service Ready",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || super::not_ready::<EcsService>(&env),
    )
    .await?;

    // Deleted with one kill: no scalable target is left.
    proxy.reset_counts();
    proxy.set_config(faults(seed(53)));
    for i in 0..services.len() {
        env.delete::<EcsService>(&format!("s{i}")).await?;
    }
    kill_every(&mut op, &mut generation, 1, Duration::from_secs(1), &start).await?;
    poll_until_empty(
        "every EcsService deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let list = env.api::<EcsService>().list(&ListParams::default()).await?;
            Ok(list.items.iter().map(|o| o.name_any()).collect())
        },
    )
    .await?;
    for rid in &rids {
        let (targets, _) = auto_scaling(&aas, rid).await?;
        ensure!(targets.is_empty(), "{rid} still registered: {targets:?}");
    }
    drop(op);
    env.cleanup::<EcsService>().await
}

/// Deregistered on deletion, though the operator that registered it was SIGKILLed before it
/// recorded it: every RegisterScalableTarget and PutScalingPolicy answer is lost (no SDK retry),
/// so the operator never gets to write the target into status, and it is killed once both
/// targets are in moto. Of two
/// such services, one is deleted while no operator runs: the next operator deregisters its
/// target (the spec counts, not only the record). The other is adopted by the next operator
/// (no faults): one scalable target, recorded in status, then deregistered on deletion.
#[tokio::test]
async fn scalable_target_of_an_operator_killed_before_recording_it_is_adopted_and_deregistered()
-> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-aas-kill").await?;
    env.stop_operator();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let cluster = unique("chaos-aas-kill");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let family = unique("chaos-aas-kill-web");
    env.register_revision(&family, "nginx:1").await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        lose_always: ["RegisterScalableTarget", "PutScalingPolicy"]
            .map(String::from)
            .into(),
        record: true,
        ..FaultConfig::default()
    })
    .await?;
    let endpoint = proxy.url();
    let services: Vec<String> = (0..2).map(|i| unique(&format!("aas-kill-{i}"))).collect();
    let rids: Vec<String> = services
        .iter()
        .map(|s| format!("service/{cluster}/{s}"))
        .collect();
    let scaling = json!({"MinCapacity": 1, "MaxCapacity": 3, "ScalingPolicies": [
        target_tracking("cpu", 60.0, "ECSServiceAverageCPUUtilization")]});
    for (i, name) in services.iter().enumerate() {
        let spec = json!({"serviceName": name, "cluster": cluster, "taskDefinition": family,
            "launchType": "EC2", "autoScaling": scaling});
        env.apply::<EcsService>(&manifest("EcsService", &format!("s{i}"), &spec))
            .await?;
    }
    let mut op = env.spawn_operator(
        "aaskill0",
        &["--aws-max-attempts", "1", "--concurrency", "8"],
        &[("AWS_ENDPOINT_URL", &endpoint)],
    )?;
    env.wait_for("RegisterScalableTarget of both reached moto", || async {
        let bodies = recorded_bodies(&proxy, "RegisterScalableTarget");
        let all = rids
            .iter()
            .all(|rid| bodies.iter().any(|b| b["ResourceId"] == rid.as_str()));
        Ok(all.then_some(()))
    })
    .await?;
    op.kill();
    op.wait_exit(Duration::from_secs(10)).await?;
    drop(op);
    for (i, rid) in rids.iter().enumerate() {
        let (targets, _) = auto_scaling(&aas, rid).await?;
        ensure!(targets == vec![(1, 3)], "{rid}: {targets:?}");
        let s = env.status_json::<EcsService>(&format!("s{i}")).await?;
        ensure!(
            s.get("autoScaling").is_none_or(Value::is_null),
            "s{i} recorded its target before the kill: {s}"
        );
    }

    // s0 is deleted while no operator runs; the next one (no faults) finishes it.
    env.delete::<EcsService>("s0").await?;
    let op = env.spawn_operator("aaskill1", &["--concurrency", "8"], &[])?;
    env.wait_gone::<EcsService>("s0").await?;
    let (targets, _) = auto_scaling(&aas, &rids[0]).await?;
    ensure!(
        targets.is_empty(),
        "{}: still registered {targets:?}",
        rids[0]
    );

    // s1 converges under the next operator: one target, now recorded.
    let want = (vec![(1, 3)], BTreeMap::from([("cpu".to_string(), 60.0)]));
    poll_until_empty(
        "s1's auto scaling recorded in status",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let s = env.status_json::<EcsService>("s1").await?;
            Ok(if s["autoScaling"].is_object() {
                vec![]
            } else {
                vec![format!("{s}")]
            })
        },
    )
    .await?;
    ensure!(
        auto_scaling(&aas, &rids[1]).await? == want,
        "{}: {:?}",
        rids[1],
        auto_scaling(&aas, &rids[1]).await?
    );
    env.delete::<EcsService>("s1").await?;
    env.wait_gone::<EcsService>("s1").await?;
    let (targets, _) = auto_scaling(&aas, &rids[1]).await?;
    ensure!(
        targets.is_empty(),
        "{}: still registered {targets:?}",
        rids[1]
    );
    drop(op);
    env.cleanup::<EcsService>().await
}

// ---------------------------------------------------------------------------------------------
// EcsExpressService

/// ACTIVE ECS services in `cluster` by name, with their ARNs (an Express service is one).
async fn active_services(env: &TestEnv, cluster: &str) -> Result<BTreeMap<String, String>> {
    let arns: Vec<String> = env
        .ecs
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await?;
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(10) {
        let described = env
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await?;
        for svc in described.services() {
            if svc.status() == Some("ACTIVE") {
                out.insert(
                    svc.service_name().unwrap_or_default().to_string(),
                    svc.service_arn().unwrap_or_default().to_string(),
                );
            }
        }
    }
    Ok(out)
}

/// Four Express services converge with their CreateExpressGatewayService answers lost (the
/// first, then half of the rest; no SDK retry, so recognising the service is the operator's job)
/// while the operator is SIGKILLed three times: one service each, created by exactly one call
/// that reached moto, recorded in status and not refused as someone else's. Deleted under the
/// same faults (one kill): nothing left.
#[tokio::test]
async fn ecs_express_service_is_created_once_and_deleted_under_chaos() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-express").await?;
    env.stop_operator();
    let cluster = unique("chaos-express");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let faults = |seed: u64| FaultConfig {
        lose_first: 1,
        lost: 0.5,
        seed,
        record: true,
        ..FaultConfig::default()
    };
    let proxy = FaultProxy::in_front_of_bed(faults(seed(71))).await?;
    let endpoint = proxy.url();
    let start = |n: usize| {
        env.spawn_operator(
            &format!("express{n}"),
            &["--aws-max-attempts", "1", "--concurrency", "8"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    };
    let prefix = unique("cx");
    let names: Vec<String> = (0..4).map(|i| format!("{prefix}-{i}")).collect();
    let mut generation = 0;
    let mut op = start(generation)?;
    for (i, name) in names.iter().enumerate() {
        let spec = json!({"serviceName": name, "cluster": cluster,
            "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
            "primaryContainer": {"image": "nginx:1"},
            "scalingTarget": {"minTaskCount": 1}});
        env.apply::<EcsExpressService>(&manifest("EcsExpressService", &format!("x{i}"), &spec))
            .await?;
    }
    kill_every(&mut op, &mut generation, 3, Duration::from_secs(3), &start).await?;
    poll_until_empty(
        "every Express service Ready",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || super::not_ready::<EcsExpressService>(&env),
    )
    .await?;
    let active = active_services(&env, &cluster).await?;
    ensure!(
        active.keys().cloned().collect::<Vec<_>>() == names,
        "services in AWS: {active:?}, want {names:?}"
    );
    for (i, name) in names.iter().enumerate() {
        let s = env
            .status_json::<EcsExpressService>(&format!("x{i}"))
            .await?;
        ensure!(
            s["serviceArn"] == active[name].as_str(),
            "{name}: status {s}, AWS {}",
            active[name]
        );
    }
    let mut creates: BTreeMap<String, usize> = BTreeMap::new();
    for body in recorded_bodies(&proxy, "CreateExpressGatewayService") {
        let name = body["serviceName"].as_str().unwrap_or_default().to_string();
        *creates.entry(name).or_default() += 1;
    }
    let once: BTreeMap<String, usize> = names.iter().map(|n| (n.clone(), 1)).collect();
    ensure!(
        creates == once,
        "CreateExpressGatewayService calls per service: {creates:?}"
    );
    let counts = proxy.counts();
    ensure!(
        counts
            .get("ecs:CreateExpressGatewayService")
            .is_some_and(|c| c.lost > 0),
        "no CreateExpressGatewayService answer was lost: {counts:?}"
    );
    eprintln!("{generation} kills; {counts:?}");

    // Deleted under the same faults and one kill: nothing left.
    proxy.reset_counts();
    proxy.set_config(faults(seed(72)));
    for i in 0..names.len() {
        env.delete::<EcsExpressService>(&format!("x{i}")).await?;
    }
    kill_every(&mut op, &mut generation, 1, Duration::from_secs(1), &start).await?;
    poll_until_empty(
        "every EcsExpressService deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let list = env
                .api::<EcsExpressService>()
                .list(&ListParams::default())
                .await?;
            Ok(list.items.iter().map(|o| o.name_any()).collect())
        },
    )
    .await?;
    let left = active_services(&env, &cluster).await?;
    ensure!(left.is_empty(), "services left: {left:?}");
    drop(op);
    env.cleanup::<EcsExpressService>().await
}

// ---------------------------------------------------------------------------------------------
// EcsGateway

/// Gateway name -> (ARN, clusters associated ACTIVE), of the gateways whose name starts with
/// `prefix`.
async fn gateways(env: &TestEnv, prefix: &str) -> Result<BTreeMap<String, (String, Vec<String>)>> {
    let out = env.ecs.list_gateways().send().await?;
    let mut found = BTreeMap::new();
    for g in out.gateways() {
        let (Some(name), Some(arn)) = (g.name(), g.gateway_arn()) else {
            continue;
        };
        if !name.starts_with(prefix) {
            continue;
        }
        let associations = env
            .ecs
            .list_gateway_cluster_associations()
            .gateway(arn)
            .send()
            .await?;
        let clusters = associations
            .gateway_cluster_associations()
            .iter()
            .filter(|a| a.status().map(|s| s.as_str()) == Some("ACTIVE"))
            .filter_map(|a| a.cluster_arn().map(str::to_string))
            .collect();
        found.insert(name.to_string(), (arn.to_string(), clusters));
    }
    Ok(found)
}

/// CreateGateway (and AssociateGatewayWithCluster) answers are lost — the first of each, then
/// 30 % — with throttling, while the operator is SIGKILLed: every object ends with exactly one
/// gateway, associated once with its cluster, and only one CreateGateway per object changed
/// moto (a retried create with the same client token returns the first). Deleted under the same
/// lost answers, half the throttling and one more kill: no gateway is left.
#[tokio::test]
async fn ecs_gateway_is_created_once_and_deleted_under_chaos() -> Result<()> {
    let _turn = TURNS.lock().await;
    let mut env = TestEnv::new("chaos-gw").await?;
    env.stop_operator();
    let cluster = unique("chaos-gw");
    let cluster_arn = env
        .ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?
        .cluster()
        .and_then(|c| c.cluster_arn())
        .ok_or_else(|| anyhow!("no cluster ARN"))?
        .to_string();
    let faults = |seed: u64| FaultConfig {
        lose_first: 1,
        lost: 0.3,
        throttle: 0.2,
        seed,
        record: true,
        ..FaultConfig::default()
    };
    let proxy = FaultProxy::in_front_of_bed(faults(seed(51))).await?;
    let endpoint = proxy.url();
    let start = |n: usize| {
        env.spawn_operator(
            &format!("gw{n}"),
            &["--aws-max-attempts", "1", "--concurrency", "8"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    };
    let prefix = unique("cgw");
    let names: Vec<String> = (0..4).map(|i| format!("{prefix}-{i}")).collect();
    let mut generation = 0;
    let mut op = start(generation)?;
    for (i, name) in names.iter().enumerate() {
        env.apply::<EcsGateway>(&manifest(
            "EcsGateway",
            &format!("g{i}"),
            &json!({"name": name, "deletionProtection": false, "clusters": [cluster],
                    "infrastructureRoleArn": "arn:aws:iam::123456789012:role/gw"}),
        ))
        .await?;
    }
    kill_every(&mut op, &mut generation, 3, Duration::from_secs(3), &start).await?;
    poll_until_empty(
        "every gateway Ready",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || super::not_ready::<EcsGateway>(&env),
    )
    .await?;
    let created = gateways(&env, &prefix).await?;
    ensure!(
        created.keys().cloned().collect::<Vec<_>>() == names,
        "gateways in AWS: {created:?}, want {names:?}"
    );
    for (i, name) in names.iter().enumerate() {
        let (arn, clusters) = &created[name];
        ensure!(
            clusters == &vec![cluster_arn.clone()],
            "{name}: {clusters:?}"
        );
        let s = env.status_json::<EcsGateway>(&format!("g{i}")).await?;
        ensure!(s["arn"] == arn.as_str(), "{name}: status {s}, AWS {arn}");
    }
    // Each object's CreateGateway calls carried one client token: moto made one gateway each.
    let mut tokens: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for body in recorded_bodies(&proxy, "CreateGateway") {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        let token = body["clientToken"].as_str().unwrap_or_default().to_string();
        tokens.entry(name).or_default().push(token);
    }
    for (name, seen) in &tokens {
        let mut distinct = seen.clone();
        distinct.sort();
        distinct.dedup();
        ensure!(distinct.len() == 1, "{name}: client tokens {seen:?}");
    }
    let counts = proxy.counts();
    ensure!(
        counts.get("ecs:CreateGateway").is_some_and(|c| c.lost > 0),
        "no CreateGateway answer was lost: {counts:?}"
    );

    // Deleted under the same lost answers, half the throttling, and one kill: nothing left.
    // A deletion pass is four calls (two DescribeGateway, one listing, one disassociate or
    // delete), so at 20 % throttling per call a pass fails more often than not and throttled
    // passes come back only every ~20 s: 240 s was a coin toss for four gateways.
    proxy.reset_counts();
    proxy.set_config(FaultConfig {
        throttle: 0.1,
        ..faults(seed(52))
    });
    for i in 0..names.len() {
        env.delete::<EcsGateway>(&format!("g{i}")).await?;
    }
    kill_every(&mut op, &mut generation, 1, Duration::from_secs(1), &start).await?;
    poll_until_empty(
        "every EcsGateway deleted (finalizers done)",
        CHAOS_DEADLINE,
        || op.log_tail(),
        || async {
            let list = env.api::<EcsGateway>().list(&ListParams::default()).await?;
            Ok(list.items.iter().map(|o| o.name_any()).collect())
        },
    )
    .await?;
    let left = gateways(&env, &prefix).await?;
    ensure!(left.is_empty(), "gateways left: {left:?}");
    drop(op);
    env.cleanup::<EcsGateway>().await
}

//! EcsTask end to end against the real bed. The bed's moto runs a test-only task model
//! (e2e/moto/ecs_tasks.py): a RunTask task is RUNNING for the task definition's
//! `moto-ecs/task-seconds` (default 2 s), then STOPPED with stopCode EssentialContainerExited
//! and the exit code of its `moto-ecs/exit-code` tag (default 0); StopTask stops it with
//! UserInitiated; RunTask honours clientToken.

use anyhow::{Result, anyhow, ensure};
use e2e::fault::{FaultConfig, FaultProxy};
use e2e::{TestEnv, condition, manifest, unique};
use ecs_operator::api::ecs_task::EcsTask;
use ecs_operator::api::{EcsCluster, TaskDefinition};
use ecs_operator::contract::ATTEMPT_TAG;
use ecs_operator::contract::OWNER_UID_TAG;
use kube::ResourceExt;
use serde_json::{Value, json};

fn fargate(awsvpc: &Value) -> Value {
    json!({"launchType": "FARGATE",
           "networkConfiguration": {"awsvpcConfiguration": awsvpc}})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

/// Task ARNs ECS holds for the family in the cluster (running and stopped).
async fn tasks_of(
    env: &TestEnv,
    cluster: &str,
    family: &str,
) -> Result<Vec<aws_sdk_ecs::types::Task>> {
    let arns = env
        .ecs
        .list_tasks()
        .cluster(cluster)
        .family(family)
        .send()
        .await?
        .task_arns()
        .to_vec();
    if arns.is_empty() {
        return Ok(vec![]);
    }
    Ok(env
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await?
        .tasks()
        .to_vec())
}

fn tag<'a>(t: &'a aws_sdk_ecs::types::Task, key: &str) -> Option<&'a str> {
    t.tags()
        .iter()
        .find(|x| x.key() == Some(key))
        .and_then(|x| x.value())
}

/// A Fargate run of a TaskDefinition object in an EcsCluster object (both by reference) is
/// Running, then Succeeded = Ready with Complete, the revision it ran, its exit code and
/// duration; its spec is immutable (backoffLimit is not); kubectl shows the Job-like columns.
#[tokio::test]
async fn fargate_task_runs_and_completes() -> Result<()> {
    let env = TestEnv::new("task-ok").await?;
    let subnet = e2e::fargate_network().await?;
    let cluster = unique("jobs");
    let family = unique("migrate");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "jobs",
        &json!({"clusterName": cluster, "capacityProviders": ["FARGATE"]}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "migrate",
        &json!({"family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
                "cpu": "256", "memory": "512",
                "containerDefinitions": [{"name": "main", "image": "busybox", "memory": 256}],
                "tags": [{"key": "moto-ecs/task-seconds", "value": "4"}]}),
    ))
    .await?;
    let td = env
        .wait_condition::<TaskDefinition>("migrate", "Ready", "True", None)
        .await?;
    let revision = td
        .status
        .and_then(|s| s.arn)
        .ok_or_else(|| anyhow!("no revision"))?;
    let spec = with(
        fargate(&subnet),
        json!({"clusterRef": {"name": "jobs"}, "taskDefinitionRef": {"name": "migrate"},
               "overrides": {"containerOverrides": [{"name": "main", "command": ["sh", "-c", "migrate up"]}]},
               "startedBy": "e2e", "tags": [{"key": "team", "value": "data"}]}),
    );
    env.apply::<EcsTask>(&manifest("EcsTask", "migrate", &spec))
        .await?;
    let running = env
        .wait_for("phase Running", || async {
            let s = env.status_json::<EcsTask>("migrate").await?;
            Ok((s["phase"] == "Running").then_some(s))
        })
        .await?;
    ensure!(
        condition(&running, "Ready") == ("False".into(), "Running".into()),
        "{running}"
    );
    ensure!(condition(&running, "Complete").0 == "False", "{running}");
    let obj = env
        .wait_condition::<EcsTask>("migrate", "Ready", "True", Some("Succeeded"))
        .await?;
    let s = serde_json::to_value(&obj)?["status"].clone();
    ensure!(s["phase"] == "Succeeded" && s["exitCode"] == 0, "{s}");
    ensure!(s["attempts"] == 1, "{s}");
    ensure!(
        s["taskDefinitionArn"] == revision.as_str(),
        "revision {revision}: {s}"
    );
    ensure!(
        condition(&s, "Complete") == ("True".into(), "Succeeded".into()),
        "{s}"
    );
    ensure!(condition(&s, "Failed").0 == "False", "{s}");
    ensure!(condition(&s, "Stalled").0 == "False", "{s}");
    ensure!(
        s["startedAt"].is_string() && s["duration"].is_string() && s["completionTime"].is_string(),
        "{s}"
    );
    ensure!(
        s["tasks"][0]["stopCode"] == "EssentialContainerExited"
            && s["tasks"][0]["containers"][0]["exitCode"] == 0,
        "{s}"
    );
    // The one task ECS ran: the resolved revision, the spec's parameters, our tags.
    let tasks = tasks_of(&env, &cluster, &family).await?;
    ensure!(tasks.len() == 1, "{tasks:?}");
    let t = &tasks[0];
    ensure!(t.task_definition_arn() == Some(revision.as_str()), "{t:?}");
    ensure!(t.started_by() == Some("e2e"), "{t:?}");
    ensure!(
        t.overrides()
            .map(|o| o.container_overrides()[0].command().to_vec())
            == Some(vec!["sh".into(), "-c".into(), "migrate up".into()]),
        "{t:?}"
    );
    ensure!(
        tag(t, "team") == Some("data") && tag(t, ATTEMPT_TAG) == Some("1"),
        "{t:?}"
    );
    ensure!(tag(t, OWNER_UID_TAG) == obj.uid().as_deref(), "{t:?}");

    let out = env.kubectl(&["get", "ecstasks"]).await?;
    let table = String::from_utf8_lossy(&out.stdout);
    for column in ["STATUS", "EXIT", "STARTED", "DURATION", "Succeeded"] {
        ensure!(table.contains(column), "missing {column}: {table}");
    }

    // Immutable run, mutable policy fields.
    let changed = with(
        spec.clone(),
        json!({"overrides": {"containerOverrides": [{"name": "main", "command": ["sh", "-c", "migrate down"]}]}}),
    );
    let err = env
        .apply::<EcsTask>(&manifest("EcsTask", "migrate", &changed))
        .await
        .err()
        .ok_or_else(|| anyhow!("a changed command was accepted"))?;
    ensure!(format!("{err:#}").contains("run-immutable"), "{err:#}");
    let removed = json!({"clusterRef": {"name": "jobs"}, "taskDefinitionRef": {"name": "migrate"},
        "launchType": "FARGATE", "networkConfiguration": spec["networkConfiguration"],
        "startedBy": "e2e", "tags": [{"key": "team", "value": "data"}]});
    let err = env
        .apply::<EcsTask>(&manifest("EcsTask", "migrate", &removed))
        .await
        .err()
        .ok_or_else(|| anyhow!("removing overrides was accepted"))?;
    ensure!(format!("{err:#}").contains("run-immutable"), "{err:#}");
    env.apply::<EcsTask>(&manifest(
        "EcsTask",
        "migrate",
        &with(
            spec.clone(),
            json!({"backoffLimit": 2, "deletionPolicy": "Delete"}),
        ),
    ))
    .await?;

    // A finished run is not run again, and deleting it stops nothing.
    env.delete::<EcsTask>("migrate").await?;
    env.wait_gone::<EcsTask>("migrate").await?;
    let tasks = tasks_of(&env, &cluster, &family).await?;
    ensure!(
        tasks.len() == 1
            && tasks[0].stop_code().map(|c| c.as_str()) == Some("EssentialContainerExited"),
        "{tasks:?}"
    );
    env.delete::<TaskDefinition>("migrate").await?;
    env.delete::<EcsCluster>("jobs").await?;
    env.cleanup_all().await
}

/// An essential container exiting 2 fails the attempt; backoffLimit 2 retries it twice as new
/// tasks (attempt tags 1, 2, 3), then the run is Failed (Stalled), with the exit code.
#[tokio::test]
async fn failing_task_retries_up_to_backoff_limit() -> Result<()> {
    let env = TestEnv::new("task-fail").await?;
    let subnet = e2e::fargate_network().await?;
    let (cluster, family, revision) = env.aws_run_target(1, 2).await?;
    let spec = with(
        fargate(&subnet),
        json!({"cluster": cluster, "taskDefinition": family, "backoffLimit": 2}),
    );
    env.apply::<EcsTask>(&manifest("EcsTask", "flaky", &spec))
        .await?;
    let obj = env
        .wait_condition::<EcsTask>("flaky", "Failed", "True", None)
        .await?;
    let s = serde_json::to_value(&obj)?["status"].clone();
    ensure!(
        s["attempts"] == 3 && s["phase"] == "Failed" && s["exitCode"] == 2,
        "{s}"
    );
    ensure!(s["taskDefinitionArn"] == revision.as_str(), "{s}");
    ensure!(
        condition(&s, "Ready") == ("False".into(), "Failed".into()),
        "{s}"
    );
    ensure!(condition(&s, "Stalled").0 == "True", "{s}");
    ensure!(condition(&s, "Complete").0 == "False", "{s}");
    let message = e2e::condition_message(&obj, "Failed");
    ensure!(
        message.contains("EssentialContainerExited") && message.contains("after 3 attempts"),
        "{message}"
    );
    let tasks = tasks_of(&env, &cluster, &family).await?;
    let mut attempts: Vec<&str> = tasks.iter().filter_map(|t| tag(t, ATTEMPT_TAG)).collect();
    attempts.sort();
    ensure!(
        attempts == ["1", "2", "3"],
        "one task per attempt: {tasks:?}"
    );
    // Failed is final: later resyncs start nothing.
    env.wait_log_grows("reconciled: in sync", 3).await?;
    ensure!(tasks_of(&env, &cluster, &family).await?.len() == 3);
    env.cleanup::<EcsTask>().await
}

/// RunTask took effect but its answer was lost (as an operator killed right after the call):
/// the next reconcile finds the task by its owner and attempt tags, records it (Recovered) and
/// never calls RunTask again; once finished, the run is read from status, not from ECS.
#[tokio::test]
async fn lost_run_task_answer_does_not_start_a_second_task() -> Result<()> {
    let mut env = TestEnv::new("task-lost").await?;
    env.stop_operator();
    let subnet = e2e::fargate_network().await?;
    let (cluster, family, _) = env.aws_run_target(2, 0).await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        lose_first: 1,
        ..FaultConfig::default()
    })
    .await?;
    // No SDK retry: the lost call is the only RunTask; finding its task is the operator's job.
    let op = env.spawn_operator(
        "lost",
        &["--aws-max-attempts", "1"],
        &[("AWS_ENDPOINT_URL", &proxy.url())],
    )?;
    let spec = with(
        fargate(&subnet),
        json!({"cluster": cluster, "taskDefinition": family}),
    );
    env.apply::<EcsTask>(&manifest("EcsTask", "once", &spec))
        .await?;
    let obj = env
        .wait_condition::<EcsTask>("once", "Ready", "True", Some("Succeeded"))
        .await
        .map_err(|e| anyhow!("{e:#}\n--- lost operator ---\n{}", op.log_tail()))?;
    let counts = proxy.counts();
    let run = counts.get("ecs:RunTask").cloned().unwrap_or_default();
    ensure!(
        run.calls == 1 && run.lost == 1,
        "RunTask {run:?}\n{}",
        op.log_tail()
    );
    let tasks = tasks_of(&env, &cluster, &family).await?;
    ensure!(tasks.len() == 1, "{tasks:?}");
    let arn = tasks[0].task_arn().unwrap_or_default().to_string();
    let recorded = obj
        .status
        .as_ref()
        .and_then(|s| s.task_arns.clone())
        .unwrap_or_default();
    ensure!(recorded == [arn.clone()], "{recorded:?} vs {arn}");
    let events = env
        .wait_for("Recovered event", || async {
            let events = env.events_for("once", "Recovered").await?;
            Ok((!events.is_empty()).then_some(events))
        })
        .await?;
    ensure!(
        events[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains(&arn)),
        "{events:?}"
    );
    // Finished: resyncs read status, not ECS.
    proxy.reset_counts();
    let before = op.log_count("reconciled: in sync");
    env.wait_for("three more resyncs", || async {
        Ok((op.log_count("reconciled: in sync") >= before + 3).then_some(()))
    })
    .await?;
    let counts = proxy.counts();
    for action in ["ecs:DescribeTasks", "ecs:RunTask", "ecs:ListTasks"] {
        ensure!(
            counts.get(action).is_none_or(|c| c.calls == 0),
            "{action} called for a finished run: {counts:?}"
        );
    }
    drop(op);
    env.cleanup::<EcsTask>().await
}

/// The operator is SIGKILLed as soon as its RunTask reached AWS (before or after it recorded the
/// answer: the race is the test's point); the next operator picks the run up from the record, or
/// finds its task by tags, and never calls RunTask again.
#[tokio::test]
async fn operator_killed_mid_run_does_not_start_a_second_task() -> Result<()> {
    let mut env = TestEnv::new("task-kill").await?;
    env.stop_operator();
    let awsvpc = e2e::fargate_network().await?;
    let (cluster, family, _) = env.aws_run_target(4, 0).await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig::default()).await?;
    let endpoint = proxy.url();
    let mut op = env.spawn_operator("first", &[], &[("AWS_ENDPOINT_URL", &endpoint)])?;
    let spec = with(
        fargate(&awsvpc),
        json!({"cluster": cluster, "taskDefinition": family}),
    );
    env.apply::<EcsTask>(&manifest("EcsTask", "job", &spec))
        .await?;
    env.wait_for("RunTask called", || async {
        Ok(proxy
            .counts()
            .get("ecs:RunTask")
            .is_some_and(|c| c.calls > 0)
            .then_some(()))
    })
    .await?;
    op.kill();
    op.wait_exit(std::time::Duration::from_secs(10)).await?;
    let op = env.spawn_operator("second", &[], &[("AWS_ENDPOINT_URL", &endpoint)])?;
    env.wait_condition::<EcsTask>("job", "Ready", "True", Some("Succeeded"))
        .await
        .map_err(|e| anyhow!("{e:#}\n--- second operator ---\n{}", op.log_tail()))?;
    let run = proxy
        .counts()
        .get("ecs:RunTask")
        .cloned()
        .unwrap_or_default();
    ensure!(run.calls == 1, "RunTask {run:?}\n{}", op.log_tail());
    ensure!(tasks_of(&env, &cluster, &family).await?.len() == 1);
    drop(op);
    env.cleanup::<EcsTask>().await
}

/// Deleting the object of a running task stops the task (StopTask with a reason, seen in
/// moto); with deletionPolicy Retain the task keeps running.
#[tokio::test]
async fn deleting_a_running_task_stops_it_unless_retained() -> Result<()> {
    let env = TestEnv::new("task-stop").await?;
    let subnet = e2e::fargate_network().await?;
    let (cluster, family, _) = env.aws_run_target(600, 0).await?;
    let base = with(
        fargate(&subnet),
        json!({"cluster": cluster, "taskDefinition": family}),
    );
    env.apply::<EcsTask>(&manifest("EcsTask", "stopped", &base))
        .await?;
    env.apply::<EcsTask>(&manifest(
        "EcsTask",
        "kept",
        &with(base.clone(), json!({"deletionPolicy": "Retain"})),
    ))
    .await?;
    let mut arns = Vec::new();
    for name in ["stopped", "kept"] {
        let s = env
            .wait_for(&format!("{name} Running"), || async {
                let s = env.status_json::<EcsTask>(name).await?;
                Ok((s["phase"] == "Running").then_some(s))
            })
            .await?;
        arns.push(s["taskArns"][0].as_str().unwrap_or_default().to_string());
    }
    for name in ["stopped", "kept"] {
        env.delete::<EcsTask>(name).await?;
        env.wait_gone::<EcsTask>(name).await?;
    }
    let describe = |arn: String| {
        let ecs = env.ecs.clone();
        let cluster = cluster.clone();
        async move {
            let out = ecs
                .describe_tasks()
                .cluster(cluster)
                .tasks(arn)
                .send()
                .await?;
            out.tasks()
                .first()
                .cloned()
                .ok_or_else(|| anyhow!("task not found"))
        }
    };
    let stopped = describe(arns[0].clone()).await?;
    ensure!(
        stopped.last_status() == Some("STOPPED")
            && stopped.stop_code().map(|c| c.as_str()) == Some("UserInitiated")
            && stopped.stopped_reason().is_some_and(
                |r| r.contains(&format!("EcsTask {}/stopped was deleted", env.namespace))
            ),
        "{stopped:?}"
    );
    let kept = describe(arns[1].clone()).await?;
    ensure!(kept.last_status() == Some("RUNNING"), "{kept:?}");
    env.ecs
        .stop_task()
        .cluster(&cluster)
        .task(&arns[1])
        .send()
        .await?;
    env.cleanup::<EcsTask>().await
}

/// ttlSecondsAfterFinished deletes the object once the run finished (not before).
#[tokio::test]
async fn finished_run_is_deleted_after_its_ttl() -> Result<()> {
    let env = TestEnv::new("task-ttl").await?;
    let subnet = e2e::fargate_network().await?;
    let (cluster, family, _) = env.aws_run_target(3, 0).await?;
    let spec = with(
        fargate(&subnet),
        json!({"cluster": cluster, "taskDefinition": family, "ttlSecondsAfterFinished": 2}),
    );
    env.apply::<EcsTask>(&manifest("EcsTask", "short", &spec))
        .await?;
    let running = env
        .wait_for("phase Running", || async {
            let s = env.status_json::<EcsTask>("short").await?;
            Ok((s["phase"] == "Running").then_some(s))
        })
        .await?;
    ensure!(running["completionTime"].is_null(), "{running}");
    let done = env
        .wait_for("phase Succeeded", || async {
            let s = env.api::<EcsTask>().get_opt("short").await?;
            Ok(s.and_then(|o| o.status)
                .filter(|s| s.phase.as_deref() == Some("Succeeded")))
        })
        .await?;
    ensure!(done.completion_time.is_some(), "{done:?}");
    env.wait_gone::<EcsTask>("short").await?;
    ensure!(tasks_of(&env, &cluster, &family).await?.len() == 1);
    env.cleanup::<EcsTask>().await
}

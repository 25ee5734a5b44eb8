//! EcsSchedule end to end against the bed's moto EventBridge Scheduler: created with an ECS
//! target (the resolved cluster ARN and revision), updated in place, drift corrected, deleted;
//! a schedule the object did not create is refused (schedules carry no tags) unless adopted.

use anyhow::{Result, anyhow, ensure};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::ecs_schedule::EcsSchedule;
use serde_json::{Value, json};

async fn scheduler_client() -> aws_sdk_scheduler::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_scheduler::Client::new(&config)
}

/// A cluster and a task definition made with the SDK: (cluster name, family, revision ARN).
async fn target(env: &TestEnv) -> Result<(String, String, String)> {
    let cluster = unique("nightly");
    let c = env
        .ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    ensure!(c.cluster().is_some(), "no cluster");
    let family = unique("report");
    let arn = env.register_revision(&family, "busybox").await?;
    Ok((cluster, family, arn))
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

#[tokio::test]
async fn schedule_is_created_updated_in_place_and_deleted() -> Result<()> {
    let env = TestEnv::new("sched").await?;
    let scheduler = scheduler_client().await;
    let (cluster, family, revision) = target(&env).await?;
    let name = unique("nightly");
    let spec = json!({
        "name": name,
        "scheduleExpression": "cron(0 3 * * ? *)",
        "scheduleExpressionTimezone": "Europe/Berlin",
        "flexibleTimeWindow": {"mode": "FLEXIBLE", "maximumWindowInMinutes": 15},
        "startDate": "2030-01-01T00:00:00Z",
        "roleArn": "arn:aws:iam::123456789012:role/scheduler",
        "retryPolicy": {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 3600},
        "deadLetterConfig": {"arn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
        "cluster": cluster,
        "taskDefinition": family,
        "count": 2,
        "launchType": "EC2",
        "overrides": {"containerOverrides": [{"name": "main", "command": ["report", "--daily"]}]},
        "tags": [{"key": "team", "value": "data"}],
    });
    env.apply::<EcsSchedule>(&manifest("EcsSchedule", "nightly", &spec))
        .await?;
    let obj = env
        .wait_condition::<EcsSchedule>("nightly", "Ready", "True", None)
        .await?;
    let status = obj.status.clone().ok_or_else(|| anyhow!("no status"))?;
    let get = || {
        scheduler
            .get_schedule()
            .name(&name)
            .group_name("default")
            .send()
    };
    let s = get().await?;
    ensure!(status.arn.as_deref() == s.arn(), "{status:?} {s:?}");
    ensure!(status.state.as_deref() == Some("ENABLED"), "{status:?}");
    ensure!(
        s.schedule_expression() == Some("cron(0 3 * * ? *)"),
        "{s:?}"
    );
    ensure!(
        s.schedule_expression_timezone() == Some("Europe/Berlin"),
        "{s:?}"
    );
    ensure!(
        s.flexible_time_window()
            .and_then(|w| w.maximum_window_in_minutes())
            == Some(15),
        "{s:?}"
    );
    ensure!(
        s.start_date().map(|d| d.secs()) == Some(1_893_456_000),
        "{s:?}"
    );
    let t = s.target().ok_or_else(|| anyhow!("no target"))?;
    ensure!(
        t.arn().contains(&cluster) && t.arn().starts_with("arn:"),
        "{t:?}"
    );
    ensure!(
        t.role_arn() == "arn:aws:iam::123456789012:role/scheduler",
        "{t:?}"
    );
    ensure!(
        t.retry_policy().and_then(|r| r.maximum_retry_attempts()) == Some(3),
        "{t:?}"
    );
    ensure!(
        t.dead_letter_config().and_then(|d| d.arn())
            == Some("arn:aws:sqs:us-east-1:123456789012:dlq"),
        "{t:?}"
    );
    let ecs = t.ecs_parameters().ok_or_else(|| anyhow!("no ECS target"))?;
    ensure!(
        ecs.task_definition_arn() == revision,
        "the revision ARN, not the family: {ecs:?}"
    );
    ensure!(ecs.task_count() == Some(2), "{ecs:?}");
    ensure!(
        t.input().is_some_and(|i| i.contains("--daily")),
        "overrides as the target input: {t:?}"
    );
    let created = s.creation_date().map(|d| d.secs());

    // Updated in place: same ARN, UpdateSchedule (not a new schedule).
    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "nightly",
        &with(
            spec.clone(),
            json!({"scheduleExpression": "rate(6 hours)", "state": "DISABLED"}),
        ),
    ))
    .await?;
    env.wait_for("the schedule updated in AWS", || async {
        let s = get().await?;
        Ok((s.schedule_expression() == Some("rate(6 hours)")
            && s.state().map(|s| s.as_str()) == Some("DISABLED"))
        .then_some(()))
    })
    .await?;
    let obj = env
        .wait_condition::<EcsSchedule>("nightly", "Synced", "True", None)
        .await?;
    let s = get().await?;
    ensure!(s.arn() == status.arn.as_deref(), "a new schedule: {s:?}");
    ensure!(
        s.creation_date().map(|d| d.secs()) == created,
        "re-created: {s:?}"
    );
    ensure!(
        obj.status.as_ref().and_then(|s| s.state.as_deref()) == Some("DISABLED"),
        "{obj:?}"
    );
    ensure!(!env.events_for("nightly", "Updated").await?.is_empty());

    // Drift (someone re-enabled it in AWS) is corrected.
    let current = get().await?;
    scheduler
        .update_schedule()
        .name(&name)
        .group_name("default")
        .schedule_expression("rate(1 minute)")
        .state(aws_sdk_scheduler::types::ScheduleState::Enabled)
        .set_flexible_time_window(current.flexible_time_window().cloned())
        .set_target(current.target().cloned())
        .send()
        .await?;
    env.wait_for("drift corrected", || async {
        let s = get().await?;
        Ok((s.schedule_expression() == Some("rate(6 hours)")
            && s.state().map(|s| s.as_str()) == Some("DISABLED"))
        .then_some(()))
    })
    .await?;

    let out = env.kubectl(&["get", "ecsschedules"]).await?;
    let table = String::from_utf8_lossy(&out.stdout);
    for column in [
        "SCHEDULE",
        "STATE",
        "READY",
        "SYNCED",
        "rate(6 hours)",
        "DISABLED",
    ] {
        ensure!(table.contains(column), "missing {column}: {table}");
    }
    // A schedule cannot move between groups or be renamed.
    for (field, value, rule) in [
        ("groupName", json!("other"), "groupName-immutable"),
        ("name", json!(unique("renamed")), "schedule-name-immutable"),
    ] {
        let err = env
            .apply::<EcsSchedule>(&manifest(
                "EcsSchedule",
                "nightly",
                &with(spec.clone(), json!({ field: value })),
            ))
            .await
            .err()
            .ok_or_else(|| anyhow!("{field} change accepted"))?;
        ensure!(format!("{err:#}").contains(rule), "{err:#}");
    }

    env.delete::<EcsSchedule>("nightly").await?;
    env.wait_gone::<EcsSchedule>("nightly").await?;
    ensure!(get().await.is_err(), "schedule still in AWS");
    env.cleanup::<EcsSchedule>().await
}

/// A schedule the object did not create (schedules carry no tags) is refused with
/// AlreadyExists and left alone; `adoptionPolicy: Adopt` takes it over and converges it; with
/// `deletionPolicy: Retain` deleting the object leaves it in AWS.
#[tokio::test]
async fn existing_schedule_is_refused_or_adopted() -> Result<()> {
    let env = TestEnv::new("sched-adopt").await?;
    let scheduler = scheduler_client().await;
    let (cluster, family, revision) = target(&env).await?;
    let cluster_arn = env
        .ecs
        .describe_clusters()
        .clusters(&cluster)
        .send()
        .await?
        .clusters()
        .first()
        .and_then(|c| c.cluster_arn())
        .ok_or_else(|| anyhow!("no cluster"))?
        .to_string();
    let name = unique("legacy");
    scheduler
        .create_schedule()
        .name(&name)
        .schedule_expression("rate(1 day)")
        .flexible_time_window(
            aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
                .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
                .build()?,
        )
        .target(
            aws_sdk_scheduler::types::Target::builder()
                .arn(&cluster_arn)
                .role_arn("arn:aws:iam::123456789012:role/old")
                .ecs_parameters(
                    aws_sdk_scheduler::types::EcsParameters::builder()
                        .task_definition_arn(&revision)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    let spec = json!({
        "name": name,
        "scheduleExpression": "rate(12 hours)",
        "flexibleTimeWindow": {"mode": "OFF"},
        "roleArn": "arn:aws:iam::123456789012:role/scheduler",
        "cluster": cluster,
        "taskDefinition": family,
        "deletionPolicy": "Retain",
    });
    env.apply::<EcsSchedule>(&manifest("EcsSchedule", "legacy", &spec))
        .await?;
    env.wait_condition::<EcsSchedule>("legacy", "Synced", "False", Some("AlreadyExists"))
        .await?;
    let get = || scheduler.get_schedule().name(&name).send();
    ensure!(
        get().await?.schedule_expression() == Some("rate(1 day)"),
        "changed while refused"
    );

    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "legacy",
        &with(spec.clone(), json!({"adoptionPolicy": "Adopt"})),
    ))
    .await?;
    env.wait_condition::<EcsSchedule>("legacy", "Ready", "True", None)
        .await?;
    env.wait_condition::<EcsSchedule>("legacy", "Synced", "True", None)
        .await?;
    let s = get().await?;
    ensure!(s.schedule_expression() == Some("rate(12 hours)"), "{s:?}");
    ensure!(
        s.target().map(|t| t.role_arn()) == Some("arn:aws:iam::123456789012:role/scheduler"),
        "{s:?}"
    );
    // Adopted once: later resyncs find it recorded in status and converge it quietly.
    env.wait_log_grows("reconciled: in sync", 3).await?;
    let adopted = env.events_for("legacy", "Adopted").await?;
    ensure!(
        adopted.len() == 1 && adopted[0].count.unwrap_or(1) == 1,
        "adopted again and again: {adopted:?}"
    );

    env.delete::<EcsSchedule>("legacy").await?;
    env.wait_gone::<EcsSchedule>("legacy").await?;
    ensure!(get().await.is_ok(), "Retain deleted the schedule");
    scheduler.delete_schedule().name(&name).send().await?;
    env.cleanup::<EcsSchedule>().await
}

/// The README's "a `family` or a `taskDefinitionRef` follows its current revision": a revision
/// registered outside (family) and one the referenced TaskDefinition registers after a spec
/// change each move the schedule's target, in place (same schedule ARN).
#[tokio::test]
async fn schedule_follows_new_revisions_of_a_family_and_a_reference() -> Result<()> {
    use ecs_operator::api::TaskDefinition;
    let env = TestEnv::new("sched-rev").await?;
    let scheduler = scheduler_client().await;
    let (cluster, family, first) = target(&env).await?;
    let td_family = unique("migrate");
    let td = |image: &str| json!({"family": td_family, "containerDefinitions": [{"name": "main", "image": image, "memory": 128}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "migrate", &td("busybox:1")))
        .await?;
    let base = |name: &str| {
        json!({"name": name, "scheduleExpression": "rate(1 day)", "flexibleTimeWindow": {"mode": "OFF"},
            "roleArn": "arn:aws:iam::123456789012:role/scheduler", "cluster": cluster})
    };
    let (by_family, by_ref) = (unique("by-family"), unique("by-ref"));
    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "by-family",
        &with(base(&by_family), json!({"taskDefinition": family})),
    ))
    .await?;
    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "by-ref",
        &with(
            base(&by_ref),
            json!({"taskDefinitionRef": {"name": "migrate"}}),
        ),
    ))
    .await?;
    for obj in ["by-family", "by-ref"] {
        env.wait_condition::<EcsSchedule>(obj, "Ready", "True", None)
            .await?;
    }
    let target_of = |name: String| {
        let scheduler = scheduler.clone();
        async move {
            let s = scheduler
                .get_schedule()
                .name(&name)
                .group_name("default")
                .send()
                .await?;
            let td = s
                .target()
                .and_then(|t| t.ecs_parameters())
                .map(|e| e.task_definition_arn().to_string())
                .unwrap_or_default();
            anyhow::Ok((s.arn().unwrap_or_default().to_string(), td))
        }
    };
    let (family_arn, td_now) = target_of(by_family.clone()).await?;
    ensure!(td_now == first, "{td_now} is not {first}");
    let (ref_arn, td_now) = target_of(by_ref.clone()).await?;
    ensure!(td_now.ends_with(&format!("{td_family}:1")), "{td_now}");

    // A second revision of the family, registered outside the operator.
    let second = env.register_revision(&family, "busybox:2").await?;
    // The referenced TaskDefinition registers revision 2 after its spec changes.
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "migrate", &td("busybox:2")))
        .await?;
    env.wait_for("both schedules on the new revisions", || async {
        let (a, family_td) = target_of(by_family.clone()).await?;
        let (b, ref_td) = target_of(by_ref.clone()).await?;
        ensure!(a == family_arn && b == ref_arn, "a schedule was re-created");
        Ok((family_td == second && ref_td.ends_with(&format!("{td_family}:2"))).then_some(()))
    })
    .await?;
    env.cleanup_all().await
}

//! EcsService rollouts against the bed's moto with its test-only ECS deployment model
//! (e2e/moto/ecs_deployments.py): deployments start IN_PROGRESS, complete after a delay while
//! the replaced one drains, and a task definition tag makes one fail (circuit breaker, rollback).

use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use e2e::{TestEnv, condition_message, manifest, metric_value, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcsCluster, TaskDefinition};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

fn condition(status: &Value, type_: &str) -> (String, String, String) {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("status"), s("reason"), s("message"))
        })
        .unwrap_or_default()
}

/// A TaskDefinition whose deployments take `seconds` in moto; `deployment` = "fail-rollback"
/// makes them fail and roll back.
fn task_definition(family: &str, image: &str, seconds: u32, deployment: Option<&str>) -> Value {
    let mut tags =
        vec![json!({"key": "moto-ecs/deployment-seconds", "value": seconds.to_string()})];
    if let Some(d) = deployment {
        tags.push(json!({"key": "moto-ecs/deployment", "value": d}));
    }
    json!({"family": family, "tags": tags,
           "containerDefinitions": [{"name": "web", "image": image, "memory": 64}]})
}

async fn aws_service(
    env: &TestEnv,
    cluster: &str,
    name: &str,
) -> Result<aws_sdk_ecs::types::Service> {
    env.ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await?
        .services()
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("service {name} not in AWS"))
}

async fn update_service_calls(env: &TestEnv) -> Result<f64> {
    let addr = env.metrics_addr().await?;
    let (_, text) = e2e::http_get(addr, "/metrics").await?;
    Ok(metric_value(
        &text,
        "ecs_operator_aws_calls_total",
        &[("service", "ecs"), ("operation", "UpdateService")],
    ))
}

async fn service_bed(env: &TestEnv, td: Value, desired: i32) -> Result<(String, String)> {
    let cluster = unique("ro-cluster");
    let name = unique("ro-svc");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "web", &td))
        .await?;
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &json!({"serviceName": name, "clusterRef": {"name": "cluster"},
                "taskDefinitionRef": {"name": "web"}, "desiredCount": desired}),
    ))
    .await?;
    Ok((cluster, name))
}

#[tokio::test]
async fn rollout_progresses_completes_and_drains_the_old_deployment() -> Result<()> {
    let env = TestEnv::new("ro-progress").await?;
    let family = unique("ro-web");
    let (cluster, name) =
        service_bed(&env, task_definition(&family, "nginx:1", 6, None), 3).await?;

    // In flight: nothing running yet, Ready=False, Progressing=True, kstatus InProgress.
    env.wait_condition::<EcsService>("web", "Progressing", "True", Some("RolloutInProgress"))
        .await?;
    let s = env.status_json::<EcsService>("web").await?;
    ensure!(condition(&s, "Ready").0 == "False", "{s}");
    ensure!(condition(&s, "Reconciling").0 == "True", "{s}");
    ensure!(
        s["desiredCount"] == 3 && s["runningCount"] == 0 && s["pendingCount"] == 3,
        "{s}"
    );
    ensure!(s["rolloutState"] == "IN_PROGRESS", "{s}");
    let (ks, _) = e2e::kstatus::kstatus::<EcsService>(&env, "web").await?;
    ensure!(ks == "InProgress", "{ks}");

    // Done: running follows desired.
    env.wait_condition::<EcsService>("web", "Ready", "True", Some("RolloutComplete"))
        .await?;
    let s = env.status_json::<EcsService>("web").await?;
    ensure!(s["runningCount"] == 3 && s["pendingCount"] == 0, "{s}");
    ensure!(condition(&s, "Progressing").0 == "False", "{s}");
    e2e::kstatus::wait_kstatus::<EcsService>(&env, "web", "Current").await?;

    // A new revision: a second deployment while the first keeps its tasks, then only one.
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:2", 6, None),
    ))
    .await?;
    let rolling = env
        .wait_for("two deployments, the old one still running", || async {
            let svc = aws_service(&env, &cluster, &name).await?;
            let d = svc.deployments();
            Ok((d.len() == 2
                && d[0].status() == Some("PRIMARY")
                && d[0].task_definition().is_some_and(|t| t.ends_with(":2"))
                && d[1].running_count() == 3)
                .then_some(svc))
        })
        .await?;
    ensure!(rolling.running_count() == 3, "{rolling:?}");
    env.wait_condition::<EcsService>("web", "Progressing", "True", None)
        .await?;
    env.wait_for("the old deployment drained", || async {
        let svc = aws_service(&env, &cluster, &name).await?;
        Ok((svc.deployments().len() == 1
            && svc.deployments()[0].rollout_state().map(|s| s.as_str()) == Some("COMPLETED"))
        .then_some(()))
    })
    .await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", Some("RolloutComplete"))
        .await?;
    ensure!(
        env.status_json::<EcsService>("web").await?["taskDefinition"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("{family}:2")))
    );
    env.cleanup_all().await
}

#[tokio::test]
async fn failed_rollout_is_reported_and_not_redeployed_until_asked() -> Result<()> {
    let env = TestEnv::new("ro-failed").await?;
    let family = unique("ro-fail");
    // The good revision's deployments take 8 s, so the rollback outlasts a few polls.
    let (cluster, name) =
        service_bed(&env, task_definition(&family, "nginx:1", 8, None), 1).await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", None)
        .await?;

    // Revision 2 fails its deployment; ECS rolls back to revision 1.
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:broken", 2, Some("fail-rollback")),
    ))
    .await?;
    let failed = env
        .wait_condition::<EcsService>("web", "Ready", "False", Some("RolloutFailed"))
        .await?;
    let message = condition_message(&failed, "Ready");
    ensure!(
        message.contains(&format!("{family}:2")) && message.contains("circuit breaker"),
        "{message}"
    );
    let s = env.status_json::<EcsService>("web").await?;
    ensure!(condition(&s, "Stalled").0 == "True", "{s}");
    ensure!(condition(&s, "Synced").1 == "RolloutFailed", "{s}");
    e2e::kstatus::wait_kstatus::<EcsService>(&env, "web", "Failed").await?;

    // No loop: revision 2 is not sent again while the rollback finishes and afterwards.
    env.wait_for("the rollback completed", || async {
        let svc = aws_service(&env, &cluster, &name).await?;
        Ok((svc.deployments().len() == 1
            && svc
                .task_definition()
                .is_some_and(|t| t.ends_with(&format!("{family}:1")))
            && svc.deployments()[0].rollout_state().map(|s| s.as_str()) == Some("COMPLETED"))
        .then_some(()))
    })
    .await?;
    let calls = update_service_calls(&env).await?;
    let reconciles = env.log_count("reconciled: in sync");
    tokio::time::sleep(Duration::from_secs(12)).await;
    ensure!(
        env.log_count("reconciled: in sync") > reconciles + 1,
        "the operator did not reconcile during the window"
    );
    ensure!(
        update_service_calls(&env).await? == calls,
        "UpdateService sent again for the failed revision"
    );
    let svc = aws_service(&env, &cluster, &name).await?;
    ensure!(
        svc.task_definition()
            .is_some_and(|t| t.ends_with(&format!("{family}:1"))),
        "{svc:?}"
    );
    let s = env.status_json::<EcsService>("web").await?;
    ensure!(condition(&s, "Ready").1 == "RolloutFailed", "{s}");
    ensure!(
        s["failedRollout"]["taskDefinition"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("{family}:2"))),
        "{s}"
    );

    // A new restart value asks for it again: deployed (and fails again).
    let first_failure = s["failedRollout"]["deploymentId"].clone();
    env.api::<EcsService>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"ecs.operator.dev/restartedAt": "2026-12-01T00:00:00Z"}}})),
        )
        .await?;
    env.wait_for("a second failed deployment recorded", || async {
        let s = env.status_json::<EcsService>("web").await?;
        Ok((s["failedRollout"]["deploymentId"] != first_failure
            && s["failedRollout"]["deploymentId"].is_string())
        .then_some(()))
    })
    .await?;
    ensure!(
        update_service_calls(&env).await? > calls,
        "restart did not redeploy"
    );

    // Fixed revision 3: deployed, Ready, Current, and the failure is forgotten.
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:2", 2, None),
    ))
    .await?;
    env.wait_for("revision 3 Ready", || async {
        let s = env.status_json::<EcsService>("web").await?;
        Ok((condition(&s, "Ready").0 == "True"
            && s["taskDefinition"]
                .as_str()
                .is_some_and(|t| t.ends_with(&format!("{family}:3"))))
        .then_some(s))
    })
    .await?;
    e2e::kstatus::wait_kstatus::<EcsService>(&env, "web", "Current").await?;
    ensure!(env.status_json::<EcsService>("web").await?["failedRollout"].is_null());
    env.cleanup_all().await
}

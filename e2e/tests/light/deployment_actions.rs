//! Deployment approval and rollback from Kubernetes (docs/kinds/ecs-service.md, "Deployment
//! actions"), against the bed's moto with its service deployment model
//! (e2e/moto/ecs_deployments.py): a deployment of a service with a PAUSE lifecycle hook waits at
//! that stage until ContinueServiceDeployment. The operator's calls go through the fault proxy,
//! which counts them.

use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use e2e::fault::{FaultConfig, FaultProxy};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcsCluster, TaskDefinition};
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

fn task_definition(family: &str, image: &str) -> Value {
    json!({"family": family,
           "tags": [{"key": "moto-ecs/deployment-seconds", "value": "2"}],
           "containerDefinitions": [{"name": "web", "image": image, "memory": 64}]})
}

fn calls(proxy: &FaultProxy, action: &str) -> u64 {
    proxy
        .counts()
        .get(&format!("ecs:{action}"))
        .map(|c| c.calls)
        .unwrap_or(0)
}

/// Waits until the service's deployment waits at a hook that is not `other_than`; returns the
/// status.
async fn wait_paused(env: &TestEnv, other_than: Option<&str>) -> Result<Value> {
    env.wait_for("the deployment waiting at its PAUSE hook", || async {
        let s = env.status_json::<EcsService>("web").await?;
        let arn = s["serviceDeployment"]["arn"].as_str().unwrap_or_default();
        Ok((condition(&s, "Ready").1 == "DeploymentPaused"
            && !arn.is_empty()
            && Some(arn) != other_than)
            .then_some(s))
    })
    .await
}

async fn annotate(env: &TestEnv, value: &str) -> Result<()> {
    let out = env
        .kubectl(&[
            "annotate",
            "ecsservice",
            "web",
            "--overwrite",
            &format!("ecs.operator.dev/deployment-action={value}"),
        ])
        .await?;
    ensure!(
        out.status.success(),
        "kubectl annotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test]
async fn paused_deployment_continues_and_rolls_back_by_annotation() -> Result<()> {
    let mut env = TestEnv::new("deploy-actions").await?;
    let proxy = FaultProxy::in_front_of_bed(FaultConfig {
        record: true,
        ..Default::default()
    })
    .await?;
    let url = proxy.url();
    let operator = env.operator().envs(&[("AWS_ENDPOINT_URL", url.as_str())]);
    env.restart_operator(operator)?;
    let family = unique("da-web");
    let cluster = unique("da-cluster");
    let name = unique("da-svc");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:1"),
    ))
    .await?;
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &json!({"serviceName": name, "clusterRef": {"name": "cluster"},
                "taskDefinitionRef": {"name": "web"}, "desiredCount": 1,
                "deploymentConfiguration": {"strategy": "BLUE_GREEN", "lifecycleHooks": [
                    {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]}}),
    ))
    .await?;
    env.wait_condition::<EcsService>("web", "Ready", "True", None)
        .await?;
    // Steady state: no service deployment is read.
    let reads = calls(&proxy, "ListServiceDeployments");
    tokio::time::sleep(Duration::from_secs(7)).await;
    ensure!(
        calls(&proxy, "ListServiceDeployments") == reads,
        "ListServiceDeployments at steady state"
    );

    // Revision 2 waits at its PAUSE hook: status names it, kstatus InProgress, Argo CD Suspended.
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:2"),
    ))
    .await?;
    let s = wait_paused(&env, None).await?;
    let first = s["serviceDeployment"]["arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let paused = &s["serviceDeployment"]["paused"];
    ensure!(
        paused["hookId"].as_str().is_some_and(|h| !h.is_empty())
            && paused["lifecycleStage"] == "POST_SCALE_UP"
            && paused["since"].is_string()
            && paused["message"]
                .as_str()
                .is_some_and(|m| m.contains("ecs.operator.dev/deployment-action=continue")),
        "{s}"
    );
    ensure!(
        s["serviceDeployment"]["strategy"] == "BLUE_GREEN"
            && s["serviceDeployment"]["status"] == "IN_PROGRESS",
        "{s}"
    );
    ensure!(
        condition(&s, "Reconciling").0 == "True"
            && condition(&s, "Reconciling").1 == "DeploymentPaused"
            && condition(&s, "Progressing").0 == "True",
        "{s}"
    );
    // kstatus() also checks that Argo CD's health script agrees: Progressing.
    let (ks, _) = e2e::kstatus::kstatus::<EcsService>(&env, "web").await?;
    ensure!(ks == "InProgress", "kstatus {ks}");
    let obj = serde_json::to_value(env.api::<EcsService>().get("web").await?)?;
    let (health, message) = e2e::kstatus::argocd_health(&obj).await?;
    ensure!(
        health == "Progressing" && message.contains("DeploymentPaused"),
        "Argo CD {health}: {message}"
    );

    // `continue`: one ContinueServiceDeployment, the rollout completes, the value is consumed.
    ensure!(calls(&proxy, "ContinueServiceDeployment") == 0);
    annotate(&env, "continue").await?;
    let done = env
        .wait_for("revision 2 Ready after continue", || async {
            let s = env.status_json::<EcsService>("web").await?;
            Ok((condition(&s, "Ready").0 == "True"
                && s["taskDefinition"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(&format!("{family}:2"))))
            .then_some(s))
        })
        .await?;
    let action = &done["deploymentAction"];
    ensure!(
        action["value"] == "continue"
            && action["action"] == "continue"
            && action["deploymentArn"] == first.as_str()
            && action["call"] == "ContinueServiceDeployment CONTINUE",
        "{done}"
    );
    ensure!(done["serviceDeployment"].is_null(), "{done}");
    e2e::kstatus::wait_kstatus::<EcsService>(&env, "web", "Current").await?;
    let events = env.events_for("web", "DeploymentAction").await?;
    ensure!(
        events.iter().any(|e| e
            .message
            .as_deref()
            .is_some_and(|m| m.contains("deployment action continue"))),
        "no event names the action: {events:?}"
    );
    tokio::time::sleep(Duration::from_secs(7)).await;
    ensure!(
        calls(&proxy, "ContinueServiceDeployment") == 1,
        "continue sent {} times",
        calls(&proxy, "ContinueServiceDeployment")
    );

    // The next spec change waits again; `rollback` rolls it back to revision 2.
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:3"),
    ))
    .await?;
    let s = wait_paused(&env, Some(&first)).await?;
    let second = s["serviceDeployment"]["arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        calls(&proxy, "ContinueServiceDeployment") == 1,
        "the consumed `continue` acted on the new deployment"
    );
    annotate(&env, "rollback").await?;
    let failed = env
        .wait_condition::<EcsService>("web", "Ready", "False", Some("RolloutFailed"))
        .await?;
    let message = e2e::condition_message(&failed, "Ready");
    ensure!(
        message.contains(&format!("{family}:3")) && message.contains("rolled back"),
        "{message}"
    );
    let s = env.status_json::<EcsService>("web").await?;
    ensure!(
        s["deploymentAction"]["action"] == "rollback"
            && s["deploymentAction"]["deploymentArn"] == second.as_str()
            && s["deploymentAction"]["call"] == "ContinueServiceDeployment ROLLBACK",
        "{s}"
    );
    ensure!(
        s["failedRollout"]["taskDefinition"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("{family}:3"))),
        "{s}"
    );
    ensure!(
        calls(&proxy, "ContinueServiceDeployment") == 2,
        "one ContinueServiceDeployment per trigger: {}",
        calls(&proxy, "ContinueServiceDeployment")
    );

    // No redeploy loop: revision 3 is not sent again, the service stays on revision 2.
    env.wait_for("the rollback completed in AWS", || async {
        let svc = env
            .ecs
            .describe_services()
            .cluster(&cluster)
            .services(&name)
            .send()
            .await?;
        let svc = svc
            .services()
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("service {name} not in AWS"))?;
        Ok((svc.deployments().len() == 1
            && svc
                .task_definition()
                .is_some_and(|t| t.ends_with(&format!("{family}:2"))))
        .then_some(()))
    })
    .await?;
    let updates = calls(&proxy, "UpdateService");
    tokio::time::sleep(Duration::from_secs(10)).await;
    ensure!(
        calls(&proxy, "UpdateService") == updates,
        "UpdateService sent again after the rollback"
    );
    let s = env.status_json::<EcsService>("web").await?;
    ensure!(condition(&s, "Ready").1 == "RolloutFailed", "{s}");
    ensure!(
        calls(&proxy, "ContinueServiceDeployment") == 2
            && calls(&proxy, "StopServiceDeployment") == 0,
        "an action was sent again"
    );

    // The next spec change recovers: a new deployment starts (and waits at its hook).
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &task_definition(&family, "nginx:4"),
    ))
    .await?;
    let s = wait_paused(&env, Some(&second)).await?;
    ensure!(s["failedRollout"].is_null(), "{s}");
    drop(proxy);
    env.cleanup_all().await
}

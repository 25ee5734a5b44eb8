//! What Flux, kpt and cli-utils see: the real kstatus computation (sigs.k8s.io/cli-utils, built
//! by e2e/tools/build.sh as `kstatus`) on objects read from the bed, for every kind (and, in
//! every check, the chart's Argo CD health script, which must agree). Converged is Current; a
//! change that cannot converge is InProgress and never Current (and
//! `kubectl wait --for=condition=Ready` does not return); a terminal error is Failed; the fix is
//! Current again. A running EcsTask is InProgress, a succeeded one Current, a failed one Failed.
//! An EcsExpressService is InProgress while its deployment rolls out, Current once it is done,
//! Failed when the deployment failed.
//! EcsService's Failed (a failed rollout) is in rollout.rs.

use anyhow::{Result, ensure};
use std::time::Duration;

use e2e::kstatus::{kstatus, stays_in_progress, wait_kstatus, wait_kstatus_within};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{
    EcrRegistry, EcrRepository, EcsCluster, EcsExpressService, EcsSchedule, EcsTask, TaskDefinition,
};
use serde_json::json;

async fn kubectl_wait_ready(env: &TestEnv, plural: &str, name: &str) -> Result<()> {
    let target = format!("{plural}/{name}");
    let out = env
        .kubectl(&["wait", "--for=condition=Ready", &target, "--timeout=30s"])
        .await?;
    ensure!(
        out.status.success(),
        "kubectl wait: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test]
async fn ecr_repository_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-ecr").await?;
    let name = unique("ks");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": name}),
    ))
    .await?;
    wait_kstatus::<EcrRepository>(&env, "repo", "Current").await?;

    // AWS rejects the policy document: terminal, so Failed (and never Current).
    let bad = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "ecr:*"}]});
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": name, "repositoryPolicy": bad}),
    ))
    .await?;
    let message = wait_kstatus::<EcrRepository>(&env, "repo", "Failed").await?;
    ensure!(message.contains("InvalidParameterException"), "{message}");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "repo",
        &json!({"repositoryName": name}),
    ))
    .await?;
    wait_kstatus::<EcrRepository>(&env, "repo", "Current").await?;

    // A repository someone else created: the object cannot converge (retried) -> InProgress.
    let taken = unique("ks-taken");
    env.ecr
        .create_repository()
        .repository_name(&taken)
        .send()
        .await?;
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "squatter",
        &json!({"repositoryName": taken}),
    ))
    .await?;
    stays_in_progress::<EcrRepository>(&env, "ecrrepositories", "squatter").await?;
    // Fixed (the other repository is gone): created, Current.
    env.ecr
        .delete_repository()
        .repository_name(&taken)
        .send()
        .await?;
    wait_kstatus::<EcrRepository>(&env, "squatter", "Current").await?;
    kubectl_wait_ready(&env, "ecrrepositories", "squatter").await?;
    env.cleanup::<EcrRepository>().await
}

#[tokio::test]
async fn task_definition_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-td").await?;
    let family = unique("ks-td");
    let plain = json!({"family": family, "containerDefinitions": [{"name": "c", "image": "nginx", "memory": 64}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "td", &plain))
        .await?;
    wait_kstatus::<TaskDefinition>(&env, "td", "Current").await?;

    // A change to an image from an EcrRepository that does not exist yet.
    let repo = unique("ks-img");
    let with_ref = json!({"family": family, "containerDefinitions": [{"name": "c", "memory": 64,
        "imageRef": {"repositoryRef": {"name": "img"}, "tag": "v1"}}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "td", &with_ref))
        .await?;
    stays_in_progress::<TaskDefinition>(&env, "taskdefinitions", "td").await?;
    let td = env.api::<TaskDefinition>().get("td").await?;
    let message = e2e::condition_message(&td, "Ready");
    ensure!(message.contains("img"), "{message}");
    let td = serde_json::to_value(env.api::<TaskDefinition>().get("td").await?)?;
    ensure!(
        td["status"]["observedGeneration"].as_i64() < td["metadata"]["generation"].as_i64(),
        "observedGeneration moved for a generation that did not converge: {td}"
    );
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "img",
        &json!({"repositoryName": repo}),
    ))
    .await?;
    wait_kstatus::<TaskDefinition>(&env, "td", "Current").await?;
    kubectl_wait_ready(&env, "taskdefinitions", "td").await?;

    // AWS rejects it (an EC2 container without memory): Failed; fixed: Current.
    let rejected = json!({"family": family, "requiresCompatibilities": ["EC2"], "containerDefinitions": [{"name": "c", "image": "nginx"}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "td", &rejected))
        .await?;
    wait_kstatus::<TaskDefinition>(&env, "td", "Failed").await?;
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "td", &plain))
        .await?;
    wait_kstatus::<TaskDefinition>(&env, "td", "Current").await?;
    env.cleanup_all().await
}

#[tokio::test]
async fn ecs_cluster_kstatus_and_a_namespace_role_that_heals() -> Result<()> {
    let env = TestEnv::new("ks-cluster").await?;
    let cluster = unique("ks-cluster");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    wait_kstatus::<EcsCluster>(&env, "cluster", "Current").await?;

    // A cluster someone else created: cannot converge (retried) -> InProgress; gone -> Current.
    let taken = unique("ks-taken");
    env.ecs.create_cluster().cluster_name(&taken).send().await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "squatter",
        &json!({"clusterName": taken}),
    ))
    .await?;
    stays_in_progress::<EcsCluster>(&env, "ecsclusters", "squatter").await?;
    env.ecs.delete_cluster().cluster(&taken).send().await?;
    wait_kstatus::<EcsCluster>(&env, "squatter", "Current").await?;

    // The namespace names a role that is not an IAM role ARN: not the spec's fault, so Stalled
    // (kstatus Failed) with its own reason, retried slowly, and healed by fixing the namespace
    // alone (no spec change).
    env.annotate_namespace("ecs.operator.dev/role-arn", "tenant-a")
        .await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster, "tags": [{"key": "team", "value": "a"}]}),
    ))
    .await?;
    let message = wait_kstatus::<EcsCluster>(&env, "cluster", "Failed").await?;
    ensure!(
        message.contains("ecs.operator.dev/role-arn") && message.contains("no spec change"),
        "{message}"
    );
    let obj = env.api::<EcsCluster>().get("cluster").await?;
    let synced = obj
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced"))
        .map(|c| c.reason.clone());
    ensure!(
        synced.as_deref() == Some("InvalidNamespaceAnnotation"),
        "{synced:?}"
    );
    let generation = obj.metadata.generation;
    env.annotate_namespace(
        "ecs.operator.dev/role-arn",
        "arn:aws:iam::123456789012:role/tenant-a",
    )
    .await?;
    // Slow retries: up to a minute or two, not the usual seconds.
    wait_kstatus_within::<EcsCluster>(&env, "cluster", "Current", Duration::from_secs(200)).await?;
    let obj = env.api::<EcsCluster>().get("cluster").await?;
    ensure!(obj.metadata.generation == generation, "the spec changed");
    env.cleanup::<EcsCluster>().await
}

#[tokio::test]
async fn ecs_service_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-svc").await?;
    let cluster = unique("ks-svc-cluster");
    let family = unique("ks-svc-web");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    let td = |family: &str| json!({"family": family, "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 64}]});
    env.apply::<TaskDefinition>(&manifest("TaskDefinition", "web", &td(&family)))
        .await?;
    let svc = |td_ref: &str| json!({"serviceName": "web", "clusterRef": {"name": "cluster"}, "taskDefinitionRef": {"name": td_ref}, "desiredCount": 1});
    env.apply::<EcsService>(&manifest("EcsService", "web", &svc("web")))
        .await?;
    wait_kstatus::<EcsService>(&env, "web", "Current").await?;

    // A change to a TaskDefinition that does not exist yet: InProgress, never Current.
    env.apply::<EcsService>(&manifest("EcsService", "web", &svc("ghost")))
        .await?;
    stays_in_progress::<EcsService>(&env, "ecsservices", "web").await?;
    let svc = env.api::<EcsService>().get("web").await?;
    let message = e2e::condition_message(&svc, "Ready");
    ensure!(message.contains("ghost"), "{message}");
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "ghost",
        &td(&unique("ks-ghost")),
    ))
    .await?;
    wait_kstatus::<EcsService>(&env, "web", "Current").await?;
    kubectl_wait_ready(&env, "ecsservices", "web").await?;
    env.cleanup_all().await
}

/// A run-to-completion kind: InProgress while the task runs, Current once it Succeeded; a run
/// that failed (no retry left) is Stalled, so Failed.
#[tokio::test]
async fn ecs_task_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-task").await?;
    let (cluster, family, _) = env.aws_run_target(6, 0).await?;
    let awsvpc = e2e::fargate_network().await?;
    let run = |family: &str| {
        json!({"cluster": cluster, "taskDefinition": family, "launchType": "FARGATE",
               "networkConfiguration": {"awsvpcConfiguration": awsvpc}, "backoffLimit": 0})
    };
    env.apply::<EcsTask>(&manifest("EcsTask", "ok", &run(&family)))
        .await?;
    let (status, message) = env
        .wait_for("phase Running", || async {
            let s = env.status_json::<EcsTask>("ok").await?;
            if s["phase"] != "Running" {
                return Ok(None);
            }
            Ok(Some(kstatus::<EcsTask>(&env, "ok").await?))
        })
        .await?;
    ensure!(
        status == "InProgress",
        "a running task is kstatus {status} ({message})"
    );
    wait_kstatus::<EcsTask>(&env, "ok", "Current").await?;
    let s = env.status_json::<EcsTask>("ok").await?;
    ensure!(s["phase"] == "Succeeded", "{s}");
    kubectl_wait_ready(&env, "ecstasks", "ok").await?;

    // Exit code 3 with backoffLimit 0: Failed, and that is final.
    let (cluster2, failing, _) = env.aws_run_target(1, 3).await?;
    let awsvpc2 = e2e::fargate_network().await?;
    let spec = json!({"cluster": cluster2, "taskDefinition": failing, "launchType": "FARGATE",
                      "networkConfiguration": {"awsvpcConfiguration": awsvpc2}, "backoffLimit": 0});
    env.apply::<EcsTask>(&manifest("EcsTask", "bad", &spec))
        .await?;
    let message = wait_kstatus::<EcsTask>(&env, "bad", "Failed").await?;
    ensure!(message.contains("EssentialContainerExited"), "{message}");
    let s = env.status_json::<EcsTask>("bad").await?;
    ensure!(s["phase"] == "Failed", "{s}");
    env.cleanup::<EcsTask>().await
}

/// Converged is Current; a spec the operator rejects (startDate not RFC 3339) is a terminal
/// error, Failed; fixed, Current again.
#[tokio::test]
async fn ecs_schedule_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-sched").await?;
    let cluster = unique("ks-sched");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let family = unique("ks-report");
    env.register_revision(&family, "busybox").await?;
    let name = unique("ks-nightly");
    let spec = |start: &str| {
        json!({"name": name, "scheduleExpression": "cron(0 3 * * ? *)",
               "flexibleTimeWindow": {"mode": "OFF"}, "startDate": start,
               "roleArn": "arn:aws:iam::123456789012:role/scheduler",
               "cluster": cluster, "taskDefinition": family})
    };
    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "nightly",
        &spec("2030-01-01T00:00:00Z"),
    ))
    .await?;
    wait_kstatus::<EcsSchedule>(&env, "nightly", "Current").await?;
    kubectl_wait_ready(&env, "ecsschedules", "nightly").await?;

    env.apply::<EcsSchedule>(&manifest("EcsSchedule", "nightly", &spec("tomorrow")))
        .await?;
    let message = wait_kstatus::<EcsSchedule>(&env, "nightly", "Failed").await?;
    ensure!(message.contains("startDate"), "{message}");
    env.apply::<EcsSchedule>(&manifest(
        "EcsSchedule",
        "nightly",
        &spec("2031-01-01T00:00:00Z"),
    ))
    .await?;
    wait_kstatus::<EcsSchedule>(&env, "nightly", "Current").await?;
    env.cleanup::<EcsSchedule>().await
}

/// The owner of a registry is Current; a second object for the same registry is refused
/// (OwnedByAnother, retried: InProgress, never Current) until the owner goes and it takes over.
/// Registry settings are per region: this test's region is its own
/// (e2e/tests/light/ecr_registry.rs).
#[tokio::test]
async fn ecr_registry_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-ecrreg").await?;
    let region = "ap-northeast-2";
    let spec = |filter: &str| {
        json!({"region": region, "deletionPolicy": "Delete",
               "scanningConfiguration": {"scanType": "BASIC", "rules": [{"scanFrequency": "SCAN_ON_PUSH",
                   "repositoryFilters": [{"filter": filter, "filterType": "WILDCARD"}]}]}})
    };
    env.apply::<EcrRegistry>(&manifest("EcrRegistry", "owner", &spec("owner-*")))
        .await?;
    wait_kstatus::<EcrRegistry>(&env, "owner", "Current").await?;
    kubectl_wait_ready(&env, "ecrregistries", "owner").await?;

    env.apply::<EcrRegistry>(&manifest("EcrRegistry", "second", &spec("second-*")))
        .await?;
    env.wait_condition::<EcrRegistry>("second", "Synced", "False", Some("OwnedByAnother"))
        .await?;
    stays_in_progress::<EcrRegistry>(&env, "ecrregistries", "second").await?;
    env.delete::<EcrRegistry>("owner").await?;
    env.wait_gone::<EcrRegistry>("owner").await?;
    wait_kstatus::<EcrRegistry>(&env, "second", "Current").await?;
    env.cleanup::<EcrRegistry>().await
}

/// InProgress (Argo CD: Progressing) while the deployment rolls out, Current (Healthy) once it
/// completed; a failed deployment is Stalled, so Failed (Degraded).
#[tokio::test]
async fn ecs_express_service_kstatus() -> Result<()> {
    let env = TestEnv::new("ks-express").await?;
    let cluster = unique("ks-express");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    // The moto model's deployment settings travel as request tags (e2e/moto/ecs_express.py).
    let spec = |name: &str, tag: (&str, &str)| {
        json!({"serviceName": unique(name), "cluster": cluster,
               "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
               "primaryContainer": {"image": "nginx:1"},
               "tags": [{"key": tag.0, "value": tag.1}]})
    };
    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "web",
        &spec("ks-web", ("moto-ecs/deployment-seconds", "5")),
    ))
    .await?;
    let (status, message) = env
        .wait_for("the first deployment in progress", || async {
            let s = env.status_json::<EcsExpressService>("web").await?;
            if s["rolloutState"] != "IN_PROGRESS" {
                return Ok(None);
            }
            Ok(Some(kstatus::<EcsExpressService>(&env, "web").await?))
        })
        .await?;
    ensure!(
        status == "InProgress",
        "a rolling Express service is kstatus {status} ({message})"
    );
    wait_kstatus::<EcsExpressService>(&env, "web", "Current").await?;
    kubectl_wait_ready(&env, "ecsexpressservices", "web").await?;

    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "bad",
        &spec("ks-bad", ("moto-ecs/deployment", "fail")),
    ))
    .await?;
    let message = wait_kstatus::<EcsExpressService>(&env, "bad", "Failed").await?;
    ensure!(message.contains("deployment failed"), "{message}");
    env.cleanup::<EcsExpressService>().await
}

/// The values snippet the chart README offers carries the tested script for every kind of the
/// operator's kind registry (a new kind without a key fails here).
#[test]
fn argocd_values_snippet_matches_the_script() -> Result<()> {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/ecs-operator/health");
    let values: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(
        dir.join("argocd-health-values.yaml"),
    )?)?;
    let script = e2e::kstatus::health_script()?;
    let kinds: Vec<(String, String)> = ecs_operator::kinds::crds()
        .into_iter()
        .map(|c| (c.spec.group, c.spec.names.kind))
        .collect();
    ensure!(!kinds.is_empty(), "the kind registry is empty");
    let keys = values["configs"]["cm"]
        .as_mapping()
        .map(|m| m.len())
        .unwrap_or_default();
    ensure!(
        keys == kinds.len(),
        "{keys} health keys for {} kinds",
        kinds.len()
    );
    for (group, kind) in &kinds {
        let key = format!("resource.customizations.health.{group}_{kind}");
        let got = values["configs"]["cm"][key.as_str()]
            .as_str()
            .unwrap_or_default();
        ensure!(
            got.trim() == script.trim(),
            "{key} differs from ecs.operator.dev.lua"
        );
    }
    Ok(())
}

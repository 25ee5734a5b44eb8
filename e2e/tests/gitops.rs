//! What Flux, kpt and cli-utils see: the real kstatus computation (sigs.k8s.io/cli-utils, built
//! by e2e/tools/build.sh as `kstatus`) on objects read from the bed, for every kind. Converged
//! is Current; a change that cannot converge is InProgress and never Current (and
//! `kubectl wait --for=condition=Ready` does not return); a terminal error is Failed; the fix is
//! Current again. EcsService's Failed (a failed rollout) is in rollout.rs.

use anyhow::{Result, ensure};
use std::time::Duration;

use e2e::kstatus::{stays_in_progress, wait_kstatus, wait_kstatus_within};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::ecs_service::EcsService;
use ecs_operator::api::{EcrRepository, EcsCluster, TaskDefinition};
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

/// The values snippet the chart README offers carries the tested script for every kind.
#[test]
fn argocd_values_snippet_matches_the_script() -> Result<()> {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/ecs-operator/health");
    let values: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(
        dir.join("argocd-health-values.yaml"),
    )?)?;
    let script = e2e::kstatus::health_script()?;
    for kind in [
        "EcrRepository",
        "EcsCluster",
        "EcsService",
        "TaskDefinition",
    ] {
        let key = format!("resource.customizations.health.ecs.operator.dev_{kind}");
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

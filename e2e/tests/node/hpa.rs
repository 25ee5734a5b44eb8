//! A real HorizontalPodAutoscaler (the node bed's kube-controller-manager) drives an EcsService
//! through its scale subresource: below minReplicas it raises desiredCount in AWS to the
//! minimum, above maxReplicas it lowers it to the maximum. The operator is the chart's pod.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use e2e::node::{Release, apply_json, poll_until};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::{EcsCluster, EcsService, TaskDefinition};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

async fn wait_aws_desired(env: &TestEnv, cluster: &str, want: i32) -> Result<()> {
    poll_until(
        &format!("desiredCount {want} in AWS"),
        Duration::from_secs(90),
        || async move {
            let got = env.aws_desired_count(cluster, "web").await?;
            ensure!(got == want, "desiredCount {got} in AWS");
            Ok(Some(()))
        },
    )
    .await
}

#[tokio::test]
async fn hpa_clamps_desired_count_in_aws_to_min_and_max_replicas() -> Result<()> {
    let mut env = TestEnv::new("node-hpa").await?;
    env.stop_operator(); // the operator under test is the chart's pod
    let rel = Release::prepare(&env.client, "hpa").await?;
    rel.finish(clamp(&rel, &env).await).await?;
    env.cleanup::<EcsService>().await
}

async fn clamp(rel: &Release, env: &TestEnv) -> Result<()> {
    rel.install(&[("watchNamespace", json!(env.namespace))])
        .await?;

    let cluster = unique("node-hpa");
    let family = unique("node-hpa");
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "cluster",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    env.apply::<TaskDefinition>(&manifest(
        "TaskDefinition",
        "web",
        &json!({"family": family, "requiresCompatibilities": ["EC2"],
                "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 64}]}),
    ))
    .await?;
    // Created at 1: an HPA leaves a target at 0 replicas alone (scaling disabled).
    env.apply::<EcsService>(&manifest(
        "EcsService",
        "web",
        &json!({"serviceName": "web", "clusterRef": {"name": "cluster"},
                "taskDefinitionRef": {"name": "web"}, "launchType": "EC2", "desiredCount": 1}),
    ))
    .await?;
    // The status carries the selector the HPA needs.
    let services: Api<EcsService> = env.api();
    let selector = env
        .wait_for("status.selector", || async {
            let svc = services.get("web").await?;
            Ok(svc.status.and_then(|s| s.selector))
        })
        .await?;
    ensure!(
        selector == "ecs.operator.dev/service=web",
        "status.selector {selector:?}"
    );
    wait_aws_desired(env, &cluster, 1).await?;

    let hpas: Api<HorizontalPodAutoscaler> = env.api();
    let hpa = |min: i32, max: i32| -> Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsService", "name": "web"},
                "minReplicas": min, "maxReplicas": max,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}}],
            }
        })
    };

    // Below the minimum: the HPA raises it, the operator sends it to AWS.
    apply_json(&hpas, &hpa(3, 4)).await?;
    wait_aws_desired(env, &cluster, 3).await?;
    let scale_target = env.api::<EcsService>().get("web").await?;
    ensure!(
        scale_target.spec.desired_count == Some(3),
        "spec.desiredCount {:?}",
        scale_target.spec.desired_count
    );

    // Above the maximum (someone scaled it to 6): the HPA lowers it to the maximum.
    services
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 6}})),
        )
        .await
        .context("scale to 6")?;
    apply_json(&hpas, &hpa(1, 2)).await?;
    wait_aws_desired(env, &cluster, 2).await?;

    // The HPA read the scale subresource with its selector: no "selector is required".
    let got = hpas.get("web").await?;
    let conditions = got.status.and_then(|s| s.conditions).unwrap_or_default();
    for c in &conditions {
        let message = c.message.clone().unwrap_or_default();
        ensure!(
            c.reason.as_deref() != Some("InvalidSelector")
                && !message.contains("selector is required"),
            "HPA condition {c:?}"
        );
    }
    ensure!(
        conditions
            .iter()
            .any(|c| c.type_ == "AbleToScale" && c.status == "True"),
        "HPA not AbleToScale: {conditions:?}"
    );
    hpas.delete("web", &Default::default()).await?;

    env.delete::<EcsService>("web").await?;
    env.wait_gone::<EcsService>("web").await?;
    env.delete::<EcsCluster>("cluster").await?;
    env.delete::<TaskDefinition>("web").await?;
    env.wait_gone::<EcsCluster>("cluster").await?;
    env.wait_gone::<TaskDefinition>("web").await?;
    Ok(())
}

//! EcsExpressService end to end against the bed's moto Express model (e2e/moto/ecs_express.py):
//! an image from an EcrRepository, a cluster from an EcsCluster, Ready with its URL (printed by
//! `kubectl get`), updates of scalingTarget and of the image applied in place (same service
//! ARN), a rename refused at admission, and deletion removing the service from AWS.

use anyhow::{Result, anyhow, ensure};
use e2e::{TestEnv, manifest, unique};
use ecs_operator::api::{EcrRepository, EcsCluster, EcsExpressService};
use serde_json::{Value, json};

/// The Express service as moto describes it: (image, minTaskCount, status code).
async fn in_aws(env: &TestEnv, arn: &str) -> Result<(String, Option<i32>, String)> {
    let out = env
        .ecs
        .describe_express_gateway_service()
        .service_arn(arn)
        .send()
        .await?;
    let svc = out
        .service
        .ok_or_else(|| anyhow!("no service in the answer"))?;
    let code = svc
        .status
        .as_ref()
        .and_then(|s| s.status_code.as_ref())
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let config = svc.active_configurations().last().cloned();
    let image = config
        .as_ref()
        .and_then(|c| c.primary_container.as_ref())
        .map(|c| c.image.clone())
        .unwrap_or_default();
    let min = config
        .as_ref()
        .and_then(|c| c.scaling_target.as_ref())
        .and_then(|s| s.min_task_count);
    Ok((image, min, code))
}

fn spec(service: &str, tag: &str, min: i32) -> Value {
    json!({
        "serviceName": service,
        "clusterRef": {"name": "c"},
        "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "primaryContainer": {
            "imageRef": {"repositoryRef": {"name": "web"}, "tag": tag},
            "containerPort": 8080,
            "environment": [{"name": "MODE", "value": "demo"}],
        },
        "scalingTarget": {"minTaskCount": min, "maxTaskCount": 4},
        // The moto model's deployments take this long, so a rollout can be seen in flight.
        "tags": [{"key": "moto-ecs/deployment-seconds", "value": "4"}],
    })
}

#[tokio::test]
async fn express_service_serves_its_url_updates_in_place_and_is_deleted() -> Result<()> {
    let env = TestEnv::new("express").await?;
    let result = scenario(&env).await;
    // Whatever happened, delete with the operator running so AWS is cleaned up too.
    let _ = env.delete::<EcsExpressService>("web").await;
    let _ = env.wait_gone::<EcsExpressService>("web").await;
    let _ = env.delete::<EcsCluster>("c").await;
    let _ = env.delete::<EcrRepository>("web").await;
    let _ = env.wait_gone::<EcsCluster>("c").await;
    let _ = env.wait_gone::<EcrRepository>("web").await;
    env.cleanup::<EcsExpressService>().await?;
    result
}

async fn scenario(env: &TestEnv) -> Result<()> {
    let service = unique("hello");
    let repository = unique("express/web");
    let cluster = unique("express");
    env.apply::<EcrRepository>(&manifest(
        "EcrRepository",
        "web",
        &json!({"repositoryName": repository}),
    ))
    .await?;
    env.apply::<EcsCluster>(&manifest(
        "EcsCluster",
        "c",
        &json!({"clusterName": cluster}),
    ))
    .await?;
    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "web",
        &spec(&service, "1", 1),
    ))
    .await?;

    // Ready with its URL, once the repository and the cluster are.
    let obj = env.wait_ready::<EcsExpressService>("web").await?;
    let status = obj.status.clone().ok_or_else(|| anyhow!("no status"))?;
    let arn = status
        .service_arn
        .clone()
        .ok_or_else(|| anyhow!("no serviceArn: {status:?}"))?;
    let url = status.url.clone().unwrap_or_default();
    ensure!(
        url.starts_with(&format!("https://{service}.ecs.")) && url.ends_with(".on.aws"),
        "{status:?}"
    );
    ensure!(
        status.status_code.as_deref() == Some("ACTIVE"),
        "{status:?}"
    );
    ensure!(
        status.rollout_state.as_deref() == Some("COMPLETED"),
        "{status:?}"
    );
    let (kstatus, message) = e2e::kstatus::kstatus::<EcsExpressService>(env, "web").await?;
    ensure!(kstatus == "Current", "kstatus {kstatus}: {message}");
    let out = env.kubectl(&["get", "ecsexpressservices", "web"]).await?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    ensure!(
        text.lines().next().is_some_and(|h| h.contains("URL")) && text.contains(&url),
        "kubectl get prints no URL column with {url}:\n{text}"
    );
    let repo_uri = env
        .ecr_repository(&repository)
        .await?
        .and_then(|r| r.repository_uri)
        .ok_or_else(|| anyhow!("no repository {repository}"))?;
    let (image, min, code) = in_aws(env, &arn).await?;
    ensure!(image == format!("{repo_uri}:1"), "image {image}");
    ensure!(min == Some(1) && code == "ACTIVE", "{min:?} {code}");
    let described = env
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await?;
    ensure!(
        described.services().first().and_then(|s| s.service_arn()) == Some(arn.as_str()),
        "DescribeServices shows the Express service: {described:?}"
    );

    // scalingTarget and the image change in place: the same service.
    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "web",
        &spec(&service, "2", 2),
    ))
    .await?;
    env.wait_for("the update in AWS", || async {
        let (image, min, _) = in_aws(env, &arn).await?;
        Ok((image == format!("{repo_uri}:2") && min == Some(2)).then_some(()))
    })
    .await?;
    // While the new deployment rolls out the service is not Ready: kstatus InProgress.
    env.wait_condition::<EcsExpressService>("web", "Ready", "False", Some("RolloutInProgress"))
        .await?;
    let (kstatus, message) = e2e::kstatus::kstatus::<EcsExpressService>(env, "web").await?;
    ensure!(kstatus == "InProgress", "kstatus {kstatus}: {message}");
    let obj = env.wait_ready::<EcsExpressService>("web").await?;
    let status = obj.status.clone().ok_or_else(|| anyhow!("no status"))?;
    ensure!(
        status.service_arn.as_deref() == Some(arn.as_str()),
        "updated in place, not replaced: {status:?}"
    );
    ensure!(status.running_count == Some(2), "{status:?}");

    // A rename is refused at admission, with its rule id.
    let err = env
        .apply::<EcsExpressService>(&manifest(
            "EcsExpressService",
            "web",
            &spec(&format!("{service}-x"), "2", 2),
        ))
        .await
        .err()
        .ok_or_else(|| anyhow!("a rename was admitted"))?;
    ensure!(
        format!("{err:#}").contains("express-service-name-immutable"),
        "{err:#}"
    );
    // Image and imageRef together are refused too.
    let mut both = spec(&service, "2", 2);
    both["primaryContainer"]["image"] = json!("nginx:1");
    let err = env
        .apply::<EcsExpressService>(&manifest("EcsExpressService", "web", &both))
        .await
        .err()
        .ok_or_else(|| anyhow!("image with imageRef was admitted"))?;
    ensure!(
        format!("{err:#}").contains("express-image-or-imageRef"),
        "{err:#}"
    );

    // Deletion removes it from AWS.
    env.delete::<EcsExpressService>("web").await?;
    env.wait_gone::<EcsExpressService>("web").await?;
    let (_, _, code) = in_aws(env, &arn).await?;
    ensure!(code == "INACTIVE", "after deletion the service is {code}");
    let described = env
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await?;
    ensure!(
        described
            .services()
            .iter()
            .all(|s| s.status() == Some("INACTIVE")),
        "{described:?}"
    );
    Ok(())
}

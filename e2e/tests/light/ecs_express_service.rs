//! EcsExpressService end to end against the bed's moto Express model (e2e/moto/ecs_express.py):
//! an image from an EcrRepository, a cluster from an EcsCluster, Ready with its URL (printed by
//! `kubectl get`), updates of scalingTarget and of the image applied in place (same service
//! ARN), a rename refused at admission, and deletion removing the service from AWS. An Express
//! service created outside the operator is refused, adopted or kept per `adoptionPolicy`, and
//! never gets two owners.

use anyhow::{Result, anyhow, ensure};
use std::collections::BTreeMap;

use e2e::{TestEnv, condition_message, manifest, unique};
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

const OWNER: &str = "ecs.operator.dev/owner";

/// (tags, minTaskCount, status code) of an Express service, as moto describes it.
async fn tags_and_scale(
    env: &TestEnv,
    arn: &str,
) -> Result<(BTreeMap<String, String>, Option<i32>, String)> {
    let svc = env
        .ecs
        .describe_express_gateway_service()
        .service_arn(arn)
        .include(aws_sdk_ecs::types::ExpressGatewayServiceInclude::Tags)
        .send()
        .await?
        .service
        .ok_or_else(|| anyhow!("no service in the answer"))?;
    let tags = svc
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let (_, min, code) = in_aws(env, arn).await?;
    Ok((tags, min, code))
}

/// An Express service created outside the operator: refused without adoptionPolicy (AWS
/// untouched, and deleting the object leaves it alone); adopted with `Adopt` (tagged, converged
/// in place, same ARN); a second object for it is OwnedByAnother and changes nothing; `Adopt` of a
/// service that does not exist creates nothing; the owner's deletion deletes it.
#[tokio::test]
async fn existing_express_service_is_refused_adopted_and_never_gets_two_owners() -> Result<()> {
    let env = TestEnv::new("express-adopt").await?;
    let cluster = unique("express-adopt");
    env.ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let service = unique("legacy");
    let created = env
        .ecs
        .create_express_gateway_service()
        .cluster(&cluster)
        .service_name(&service)
        .infrastructure_role_arn("arn:aws:iam::123456789012:role/infra")
        .primary_container(
            aws_sdk_ecs::types::ExpressGatewayContainer::builder()
                .image("nginx:1")
                .build()?,
        )
        .scaling_target(
            aws_sdk_ecs::types::ExpressGatewayScalingTarget::builder()
                .min_task_count(1)
                .build(),
        )
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("team")
                .value("a")
                .build(),
        )
        .send()
        .await?;
    let arn = created
        .service()
        .and_then(|s| s.service_arn())
        .ok_or_else(|| anyhow!("no ARN"))?
        .to_string();
    let spec = |policy: Option<&str>, min: i32| {
        let mut spec = json!({
            "serviceName": service,
            "cluster": cluster,
            "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
            "primaryContainer": {"image": "nginx:1"},
            "scalingTarget": {"minTaskCount": min},
            "tags": [{"key": "team", "value": "b"}],
        });
        if let Some(policy) = policy {
            spec["adoptionPolicy"] = json!(policy);
        }
        spec
    };
    let untouched = BTreeMap::from([("team".to_string(), "a".to_string())]);

    // Never (the default): refused, AWS untouched; deleting the object leaves the service.
    env.apply::<EcsExpressService>(&manifest("EcsExpressService", "squatter", &spec(None, 2)))
        .await?;
    let obj = env
        .wait_condition::<EcsExpressService>("squatter", "Synced", "False", Some("AlreadyExists"))
        .await?;
    let message = condition_message(&obj, "Synced");
    ensure!(message.contains("adoptionPolicy: Adopt"), "{message}");
    ensure!(
        tags_and_scale(&env, &arn).await? == (untouched.clone(), Some(1), "ACTIVE".into()),
        "AWS changed without adoption"
    );
    env.delete::<EcsExpressService>("squatter").await?;
    env.wait_gone::<EcsExpressService>("squatter").await?;
    ensure!(
        tags_and_scale(&env, &arn).await? == (untouched, Some(1), "ACTIVE".into()),
        "deleting a non-owner touched AWS"
    );

    // Adopt: owned, converged in place (the same service).
    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "adopter",
        &spec(Some("Adopt"), 2),
    ))
    .await?;
    let obj = env.wait_ready::<EcsExpressService>("adopter").await?;
    ensure!(
        obj.status.as_ref().and_then(|s| s.service_arn.as_deref()) == Some(arn.as_str()),
        "adopted another service: {:?}",
        obj.status
    );
    let (tags, min, code) = tags_and_scale(&env, &arn).await?;
    ensure!(
        tags.get("team").map(String::as_str) == Some("b")
            && tags.get(OWNER) == Some(&format!("{}/adopter", env.namespace))
            && min == Some(2)
            && code == "ACTIVE",
        "{tags:?} {min:?} {code}"
    );
    ensure!(
        !env.events_for("adopter", "Adopted").await?.is_empty(),
        "no Adopted event"
    );

    // A second object, even with Adopt: OwnedByAnother, and it changes nothing.
    env.apply::<EcsExpressService>(&manifest(
        "EcsExpressService",
        "rival",
        &spec(Some("Adopt"), 3),
    ))
    .await?;
    let rival = env
        .wait_condition::<EcsExpressService>("rival", "Synced", "False", Some("OwnedByAnother"))
        .await?;
    ensure!(
        condition_message(&rival, "Synced").contains("/adopter"),
        "{}",
        condition_message(&rival, "Synced")
    );
    let (tags, min, _) = tags_and_scale(&env, &arn).await?;
    ensure!(
        min == Some(2) && tags.get(OWNER) == Some(&format!("{}/adopter", env.namespace)),
        "objects fought: {tags:?} {min:?}"
    );
    env.delete::<EcsExpressService>("rival").await?;
    env.wait_gone::<EcsExpressService>("rival").await?;
    ensure!(
        tags_and_scale(&env, &arn).await?.2 == "ACTIVE",
        "the rival's deletion deleted the owner's service"
    );

    // Adopt requires the service: NotFound, nothing created.
    let missing = unique("missing");
    let mut must_exist = spec(Some("Adopt"), 1);
    must_exist["serviceName"] = json!(missing);
    env.apply::<EcsExpressService>(&manifest("EcsExpressService", "must-exist", &must_exist))
        .await?;
    env.wait_condition::<EcsExpressService>("must-exist", "Synced", "False", Some("NotFound"))
        .await?;
    let described = env
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(&missing)
        .send()
        .await?;
    ensure!(
        described.services().is_empty(),
        "Adopt created a service: {described:?}"
    );
    env.delete::<EcsExpressService>("must-exist").await?;

    // The owner's deletion deletes it.
    env.delete::<EcsExpressService>("adopter").await?;
    env.wait_gone::<EcsExpressService>("adopter").await?;
    ensure!(
        tags_and_scale(&env, &arn).await?.2 == "INACTIVE",
        "the owner's deletion left the service"
    );
    env.cleanup_all().await
}
